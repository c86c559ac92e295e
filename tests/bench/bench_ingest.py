#!/usr/bin/env python3
"""Ingest benchmark: what track() costs a web request, how soon events are committed, how fast
track_many imports, against the hardware's limit (a bare sqlite3 loop) and against what shops
do today (a Django Model.objects.create per event).

Run by hand, never by the test suite (see tests/bench/README.md):

    PYTHONPATH=plugin-adapters python tests/bench/bench_ingest.py            # full run
    PYTHONPATH=plugin-adapters python tests/bench/bench_ingest.py --quick    # a few seconds
    PYTHONPATH=plugin-adapters python tests/bench/bench_ingest.py --json     # machine-readable

Everything runs on SQLite files in one fresh temporary directory (real disk unless --dir
says otherwise), with the engine's defaults (WAL, synchronous=FULL, group commit).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal

import cartrecovery as cr

# The aims from DESIGN.md "Ingest off the request's back".
AIM_DJANGO_OVER_TRACK = 100.0   # track() at least 100x cheaper than a Django create
AIM_COMMIT_P99_MS = 100.0       # an accepted event is committed within ~50 ms (p99 <= 100 ms)
AIM_MANY_OVER_BARE = 1.0 / 3.0  # track_many at least a third of a bare sqlite3 loop

PRICE = Decimal("19.90")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- statistics ------------------------------------------------------------------------------

def pct(sorted_vals, p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def summary_us(ns_values) -> dict:
    """Latencies in ns -> {n, median_us, p99_us, max_us, mean_us}."""
    v = sorted(ns_values)
    return {
        "n": len(v),
        "median_us": statistics.median(v) / 1e3,
        "p90_us": pct(v, 90) / 1e3,
        "p99_us": pct(v, 99) / 1e3,
        "max_us": v[-1] / 1e3,
        "mean_us": statistics.fmean(v) / 1e3,
    }


# ---- the event --------------------------------------------------------------------------------

def cart_fields(cart_id: str, visitor_id: str) -> dict:
    return {
        "cart_id": cart_id,
        "visitor_id": visitor_id,
        "items": [{"sku": "KITE-DELTA-1", "name": "Delta kite", "price": PRICE, "quantity": 2}],
        "currency": "EUR",
    }


def new_engine(directory: str, name: str) -> cr.Engine:
    return cr.Engine(store="sqlite:///" + os.path.join(directory, name))


# ---- 1. track() latency ----------------------------------------------------------------------

def bench_track_single(directory: str, calls: int, round_size: int) -> dict:
    """One thread calling track() back to back. Calls go in rounds of round_size with an
    (untimed) flush between rounds, so the queue (capacity 100k) never fills; the writer
    thread commits concurrently, as it would in production."""
    engine = new_engine(directory, "track1.db")
    track = engine.track
    # Warm-up: starts the writer thread, fills statement caches, creates the schema pages.
    for i in range(2000):
        track("cart_updated", **cart_fields(f"warm-{i}", f"wv-{i}"))
    engine.flush()
    lat = []
    full = 0
    done = 0
    t_busy = 0
    while done < calls:
        n = min(round_size, calls - done)
        t0 = time.perf_counter_ns()
        for i in range(done, done + n):
            # the argument dict is built outside the timed region, as a view would build it
            f = cart_fields(f"c1-{i % 5000}", f"v1-{i % 5000}")
            s = time.perf_counter_ns()
            try:
                track("cart_updated", **f)
            except cr.QueueFullError:
                full += 1
            lat.append(time.perf_counter_ns() - s)
        t_busy += time.perf_counter_ns() - t0
        done += n
        engine.flush()
    engine.close()
    out = summary_us(lat)
    out["calls_per_s"] = calls / (t_busy / 1e9)  # includes building the fields dicts
    out["queue_full"] = full
    return out


def bench_track_threads(directory: str, threads: int, calls_per_thread: int, rounds: int) -> dict:
    """threads threads calling track() at once, each on its own carts, started together by a
    barrier. Per-call latency across all threads; aggregate calls/s = all calls / wall time
    from the barrier to the last thread's end (per round, summed)."""
    engine = new_engine(directory, "trackN.db")
    for i in range(2000):
        engine.track("cart_updated", **cart_fields(f"warm-{i}", f"wv-{i}"))
    engine.flush()
    all_lat: list[int] = []
    full = [0]
    wall_ns = 0
    total_calls = 0
    lock = threading.Lock()
    for rnd in range(rounds):
        barrier = threading.Barrier(threads + 1)
        ends = [0] * threads

        def work(t: int) -> None:
            track = engine.track
            mine = []
            fulls = 0
            prebuilt = [cart_fields(f"t{t}-c{i % 1000}", f"t{t}-v{i % 1000}") for i in range(calls_per_thread)]
            barrier.wait()
            for f in prebuilt:
                s = time.perf_counter_ns()
                try:
                    track("cart_updated", **f)
                except cr.QueueFullError:
                    fulls += 1
                mine.append(time.perf_counter_ns() - s)
            ends[t] = time.perf_counter_ns()
            with lock:
                all_lat.extend(mine)
                full[0] += fulls

        ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for th in ts:
            th.start()
        barrier.wait()
        start = time.perf_counter_ns()
        for th in ts:
            th.join()
        wall_ns += max(ends) - start
        total_calls += threads * calls_per_thread
        engine.flush()
    engine.close()
    out = summary_us(all_lat)
    out["threads"] = threads
    out["calls_per_s"] = total_calls / (wall_ns / 1e9)
    out["queue_full"] = full[0]
    return out


# ---- 2. time from track() to commit ----------------------------------------------------------

def bench_commit_latency(directory: str, bg_rate: int, samples: int, interval_s: float) -> dict:
    """A background thread tracks cart_updated at a steady bg_rate events/s (paced every
    millisecond: it issues whatever is due by then). Meanwhile the main thread, every
    interval_s, (a) calls track(..., durable=True) and times until it returns, i.e. until
    the writer committed the transaction holding that event (and everything queued before
    it); and (b) alternately calls track() then flush(), timed from before track() until
    flush() returns. Both are upper bounds for "accepted -> committed" of an ordinary event
    queued at the same moment."""
    engine = new_engine(directory, f"commit-{bg_rate}.db")
    for i in range(2000):
        engine.track("cart_updated", **cart_fields(f"warm-{i}", f"wv-{i}"))
    engine.flush()
    stop = threading.Event()
    sent = [0]
    full = [0]

    def background() -> None:
        track = engine.track
        t0 = time.perf_counter()
        n = 0
        while not stop.is_set():
            due = int((time.perf_counter() - t0) * bg_rate)
            while n < due:
                try:
                    track("cart_updated", **cart_fields(f"bg-{n % 20000}", f"bgv-{n % 20000}"))
                except cr.QueueFullError:
                    full[0] += 1
                n += 1
            time.sleep(0.001)
        sent[0] = n

    bg = threading.Thread(target=background, daemon=True)
    bg.start()
    time.sleep(0.5)  # let the load settle
    durable_ns, flush_ns = [], []
    t_start = time.perf_counter()
    for k in range(samples):
        f = cart_fields(f"probe-{k}", f"probev-{k}")
        if k % 2 == 0:
            s = time.perf_counter_ns()
            engine.track("cart_updated", durable=True, **f)
            durable_ns.append(time.perf_counter_ns() - s)
        else:
            s = time.perf_counter_ns()
            engine.track("cart_updated", **f)
            engine.flush()
            flush_ns.append(time.perf_counter_ns() - s)
        time.sleep(interval_s)
    elapsed = time.perf_counter() - t_start
    stop.set()
    bg.join()
    engine.flush()
    engine.close()
    d = summary_us(durable_ns)
    fl = summary_us(flush_ns)
    return {
        "bg_rate_target": bg_rate,
        "bg_rate_achieved": sent[0] / (elapsed + 0.5),
        "queue_full": full[0],
        "durable_median_ms": d["median_us"] / 1e3,
        "durable_p99_ms": d["p99_us"] / 1e3,
        "durable_max_ms": d["max_us"] / 1e3,
        "durable_n": d["n"],
        "flush_median_ms": fl["median_us"] / 1e3,
        "flush_p99_ms": fl["p99_us"] / 1e3,
        "flush_max_ms": fl["max_us"] / 1e3,
        "flush_n": fl["n"],
    }


# ---- 3. track_many ---------------------------------------------------------------------------

def many_events(total: int, batch: int):
    carts = max(1, total // 5)  # each cart updated ~5 times: inserts and updates of carts
    events = [
        dict(type="cart_updated", **cart_fields(f"m-{i % carts}", f"mv-{i % carts}"))
        for i in range(total)
    ]
    return [events[i:i + batch] for i in range(0, total, batch)]


def bench_track_many(directory: str, total: int, batch: int) -> dict:
    engine = new_engine(directory, "many.db")
    warm = many_events(2000, batch)
    for b in warm:
        engine.track_many(b)
    engine.flush()
    batches = many_events(total, batch)  # built before the clock starts
    call_ns = []
    t0 = time.perf_counter_ns()
    for b in batches:
        s = time.perf_counter_ns()
        engine.track_many(b)
        call_ns.append(time.perf_counter_ns() - s)
    t_queued = time.perf_counter_ns()
    engine.flush()
    t1 = time.perf_counter_ns()
    engine.close()
    cs = summary_us(call_ns)
    return {
        "events": total,
        "batch": batch,
        "events_per_s": total / ((t1 - t0) / 1e9),
        "seconds": (t1 - t0) / 1e9,
        "enqueue_seconds": (t_queued - t0) / 1e9,
        "flush_wait_seconds": (t1 - t_queued) / 1e9,
        "call_median_ms": cs["median_us"] / 1e3,
        "call_p99_ms": cs["p99_us"] / 1e3,
    }


# ---- 4. bare sqlite3 -------------------------------------------------------------------------

BARE_SCHEMA = """
CREATE TABLE events(
  id INTEGER PRIMARY KEY, type TEXT NOT NULL, at_ms INTEGER NOT NULL,
  cart_id TEXT, visitor_id TEXT, payload TEXT NOT NULL);
CREATE INDEX events_at ON events(at_ms);
CREATE TABLE carts(
  cart_id TEXT PRIMARY KEY, visitor_id TEXT, contact_key TEXT, state TEXT NOT NULL,
  stage TEXT NOT NULL, currency TEXT, items TEXT NOT NULL, value_minor INTEGER NOT NULL,
  restore_url TEXT, created_ms INTEGER NOT NULL, last_activity_ms INTEGER NOT NULL);
CREATE INDEX carts_contact ON carts(contact_key, last_activity_ms);
"""

BARE_EVENT = "INSERT INTO events(type, at_ms, cart_id, visitor_id, payload) VALUES(?,?,?,?,?)"
BARE_CART = """
INSERT INTO carts(cart_id, visitor_id, contact_key, state, stage, currency, items, value_minor,
                  restore_url, created_ms, last_activity_ms)
VALUES(?,?,'','active','cart',?,?,?,'',?,?)
ON CONFLICT(cart_id) DO UPDATE SET
  visitor_id=excluded.visitor_id, currency=excluded.currency, items=excluded.items,
  value_minor=excluded.value_minor, last_activity_ms=max(last_activity_ms, excluded.last_activity_ms)
"""


def bench_bare_sqlite(directory: str, total: int, batch: int) -> dict:
    """The same rows through Python's sqlite3: per event one INSERT into events (payload as
    JSON text, serialized in the loop) and one upsert into carts (items JSON, value in minor
    units), one transaction per `batch` events, WAL + synchronous=FULL like the engine."""
    path = os.path.join(directory, "bare.db")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.executescript(BARE_SCHEMA)
    batches = many_events(total, batch)  # the same Python inputs track_many gets

    def run(bs) -> None:
        ex = con.execute
        dumps = json.dumps
        for b in bs:
            ex("BEGIN IMMEDIATE")
            for ev in b:
                at = time.time_ns() // 1_000_000
                items = [{"sku": it["sku"], "name": it["name"], "price": str(it["price"]),
                          "quantity": it["quantity"]} for it in ev["items"]]
                payload = dumps({"cart_id": ev["cart_id"], "visitor_id": ev["visitor_id"],
                                 "items": items, "currency": ev["currency"]})
                value = sum(int(it["price"] * 100) * it["quantity"] for it in ev["items"])
                ex(BARE_EVENT, ("cart_updated", at, ev["cart_id"], ev["visitor_id"], payload))
                ex(BARE_CART, (ev["cart_id"], ev["visitor_id"], ev["currency"], dumps(items),
                               value, at, at))
            ex("COMMIT")

    run(many_events(2000, batch))  # warm-up
    t0 = time.perf_counter_ns()
    run(batches)
    t1 = time.perf_counter_ns()
    con.close()
    return {"rows_per_s": total / ((t1 - t0) / 1e9), "events": total, "batch": batch,
            "seconds": (t1 - t0) / 1e9}


def fsync_commit_probe(directory: str, n: int) -> dict:
    """One tiny WAL + synchronous=FULL commit, n times: what one fsync'd commit costs here."""
    con = sqlite3.connect(os.path.join(directory, "probe.db"), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t(x)")
    lat = []
    for i in range(n):
        s = time.perf_counter_ns()
        con.execute("INSERT INTO t VALUES(?)", (i,))  # autocommit: one transaction
        lat.append(time.perf_counter_ns() - s)
    con.close()
    return summary_us(lat)


# ---- 5. Django ------------------------------------------------------------------------------

def bench_django(directory: str, samples: int) -> dict:
    """Model.objects.create of the same event on SQLite with Django's defaults (autocommit,
    so one transaction per create; Django's default journal mode, i.e. SQLite's rollback
    journal), and again on a second database switched to WAL for reference."""
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        INSTALLED_APPS=[],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3",
                        "NAME": os.path.join(directory, "django.db")},
            "wal": {"ENGINE": "django.db.backends.sqlite3",
                    "NAME": os.path.join(directory, "django-wal.db")},
        },
    )
    django.setup()
    from django.core.serializers.json import DjangoJSONEncoder
    from django.db import connections, models

    class CartEvent(models.Model):
        type = models.CharField(max_length=32)
        at_ms = models.BigIntegerField(db_index=True)
        cart_id = models.CharField(max_length=128, null=True)
        visitor_id = models.CharField(max_length=128, null=True)
        payload = models.JSONField(encoder=DjangoJSONEncoder)

        class Meta:
            app_label = "bench_ingest"

    out = {"django_version": django.get_version()}
    for alias in ("default", "wal"):
        conn = connections[alias]
        with conn.cursor() as cur:
            if alias == "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA journal_mode")
            journal = cur.fetchone()[0]
            cur.execute("PRAGMA synchronous")
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(cur.fetchone()[0])
        with conn.schema_editor() as editor:
            editor.create_model(CartEvent)
        mgr = CartEvent.objects.using(alias)

        def one(i: int) -> None:
            f = cart_fields(f"dj-{i % 5000}", f"djv-{i % 5000}")
            mgr.create(type="cart_updated", at_ms=time.time_ns() // 1_000_000,
                       cart_id=f["cart_id"], visitor_id=f["visitor_id"], payload=f)

        for i in range(min(200, samples)):  # warm-up
            one(i)
        lat = []
        for i in range(samples):
            s = time.perf_counter_ns()
            one(i)
            lat.append(time.perf_counter_ns() - s)
        r = summary_us(lat)
        r["journal_mode"] = journal
        r["synchronous"] = sync
        out[alias] = r
    return out


# ---- environment ----------------------------------------------------------------------------

def filesystem_of(path: str) -> str:
    best, fstype, dev = "", "?", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1]
                if path.startswith(mnt) and len(mnt) > len(best):
                    best, dev, fstype = mnt, parts[0], parts[2]
    except OSError:
        pass
    return f"{fstype} ({dev} on {best})"


# ---- report ---------------------------------------------------------------------------------

def print_table(r: dict) -> None:
    env, t1, tn = r["env"], r["track_1"], r["track_n"]
    many, bare, dj = r["track_many"], r["bare_sqlite"], r["django"]
    aims = r["aims"]
    w = print
    w(f"cartrecovery ingest benchmark ({'quick' if env['quick'] else 'full'} run)")
    w(f"  python {env['python']}, SQLite {env['sqlite']}, {env['cpus']} CPUs, "
      f"dir {env['dir']} on {env['filesystem']}")
    w(f"  extension {env['core']} (built {env['core_mtime']})")
    p = r["fsync_probe"]
    w(f"  one tiny WAL+FULL commit here: median {p['median_us']:.0f} us, p99 {p['p99_us']:.0f} us")
    w("")
    w("1. track(\"cart_updated\", ...) from Python, per call (perf_counter_ns around the call)")
    w(f"   {'':<26}{'calls':>9}{'median':>11}{'p90':>11}{'p99':>11}{'max':>11}{'calls/s':>12}")
    for label, x in (("1 thread", t1), (f"{tn['threads']} threads (all calls)", tn)):
        w(f"   {label:<26}{x['n']:>9}{x['median_us']:>9.1f}us{x['p90_us']:>9.1f}us"
          f"{x['p99_us']:>9.1f}us{x['max_us']:>9.0f}us{x['calls_per_s']:>12,.0f}")
    if t1["queue_full"] or tn["queue_full"]:
        w(f"   QueueFullError: {t1['queue_full']} (1 thread), {tn['queue_full']} (threads)")
    w("")
    w("2. Time from track() to commit (ms), under a steady background load of track() calls")
    w("   durable: track(..., durable=True) returns after the writer committed it (reported)")
    w("   flush:   track() then flush(), timed from before track() until flush() returns")
    w(f"   {'bg load (ev/s)':<18}{'achieved':>10}{'durable med':>13}{'durable p99':>13}"
      f"{'flush med':>11}{'flush p99':>11}{'max':>9}")
    for c in r["commit"]:
        w(f"   {c['bg_rate_target']:<18,}{c['bg_rate_achieved']:>10,.0f}{c['durable_median_ms']:>13.2f}"
          f"{c['durable_p99_ms']:>13.2f}{c['flush_median_ms']:>11.2f}{c['flush_p99_ms']:>11.2f}"
          f"{max(c['durable_max_ms'], c['flush_max_ms']):>9.1f}")
    w("")
    w("3./4. Bulk ingest (same cart_updated events, batches of 1000)")
    w(f"   track_many + flush        {many['events_per_s']:>12,.0f} events/s   "
      f"({many['events']:,} events in {many['seconds']:.2f}s; enqueue {many['enqueue_seconds']:.2f}s, "
      f"then flush waited {many['flush_wait_seconds']:.2f}s)")
    w(f"   bare sqlite3 loop         {bare['rows_per_s']:>12,.0f} events/s   "
      f"(events INSERT + carts upsert, 1000/txn, WAL, synchronous=FULL)")
    w(f"   ratio track_many / bare   {r['ratios']['many_over_bare']:>12.2f}")
    w("")
    w("5. Django Model.objects.create of the same event (autocommit), per call")
    for alias, label in (("default", "Django defaults"), ("wal", "Django + WAL (reference)")):
        x = dj[alias]
        w(f"   {label:<26}{x['n']:>6} calls  median {x['median_us']:>8.1f}us  p99 {x['p99_us']:>8.1f}us"
          f"   (journal_mode={x['journal_mode']}, synchronous={x['synchronous']})")
    w(f"   ratio django_create_median / track_median (1 thread): {r['ratios']['django_over_track']:.0f}x"
      f"   (with WAL: {r['ratios']['django_wal_over_track']:.0f}x)")
    w("")
    w("Aims")
    for a in aims:
        w(f"   [{'PASS' if a['ok'] else 'MISS'}] {a['aim']}: {a['measured']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short run (~15 s)")
    ap.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    ap.add_argument("--dir", default=None, help="parent directory for the temp dir (default: system temp)")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    q = args.quick
    sizes = {
        "track_calls": 20_000 if q else 100_000,
        "track_round": 10_000,
        "thread_calls": 2_500 if q else 5_000,
        "thread_rounds": 1 if q else 3,
        "commit_rates": [2_000] if q else [1_000, 10_000],
        "commit_samples": 200 if q else 1_000,
        "commit_interval_s": 0.005,
        "many_total": 50_000 if q else 200_000,
        "batch": 1000,
        "django_samples": 300 if q else 2_000,
    }
    tmp = tempfile.mkdtemp(prefix="cr-bench-", dir=args.dir)
    r: dict = {"env": {
        "quick": q, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(), "dir": tmp, "filesystem": filesystem_of(os.path.realpath(tmp)),
        "core": cr._core.__file__,
        "core_mtime": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(cr._core.__file__))),
        "sizes": sizes,
    }}
    try:
        log("fsync probe ...")
        r["fsync_probe"] = fsync_commit_probe(tmp, 200)
        log("1. track(), one thread ...")
        r["track_1"] = bench_track_single(tmp, sizes["track_calls"], sizes["track_round"])
        log(f"1. track(), {args.threads} threads ...")
        r["track_n"] = bench_track_threads(tmp, args.threads, sizes["thread_calls"], sizes["thread_rounds"])
        r["commit"] = []
        for rate in sizes["commit_rates"]:
            log(f"2. commit latency at {rate} events/s ...")
            r["commit"].append(bench_commit_latency(tmp, rate, sizes["commit_samples"],
                                                    sizes["commit_interval_s"]))
        log("3. track_many ...")
        r["track_many"] = bench_track_many(tmp, sizes["many_total"], sizes["batch"])
        log("4. bare sqlite3 ...")
        r["bare_sqlite"] = bench_bare_sqlite(tmp, sizes["many_total"], sizes["batch"])
        log("5. Django create ...")
        r["django"] = bench_django(tmp, sizes["django_samples"])
    finally:
        if not args.keep:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)

    track_med = r["track_1"]["median_us"]
    r["ratios"] = {
        "django_over_track": r["django"]["default"]["median_us"] / track_med,
        "django_wal_over_track": r["django"]["wal"]["median_us"] / track_med,
        "many_over_bare": r["track_many"]["events_per_s"] / r["bare_sqlite"]["rows_per_s"],
    }
    worst_p99 = max(c["durable_p99_ms"] for c in r["commit"])
    r["aims"] = [
        {"aim": f"track() >= {AIM_DJANGO_OVER_TRACK:.0f}x cheaper than Django create (medians, 1 thread)",
         "measured": f"{r['ratios']['django_over_track']:.0f}x",
         "ok": r["ratios"]["django_over_track"] >= AIM_DJANGO_OVER_TRACK},
        {"aim": f"commit p99 <= {AIM_COMMIT_P99_MS:.0f} ms (durable track, worst load)",
         "measured": f"{worst_p99:.2f} ms",
         "ok": worst_p99 <= AIM_COMMIT_P99_MS},
        {"aim": "track_many >= 1/3 of bare sqlite3",
         "measured": f"{r['ratios']['many_over_bare']:.2f}",
         "ok": r["ratios"]["many_over_bare"] >= AIM_MANY_OVER_BARE},
    ]
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print_table(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
