#!/usr/bin/env python3
"""Firing benchmark (issue 9, "How it is shown"): how many reminders per second the engine's
run_due() sends, next to what a shop would use instead and to what the disk allows, plus the
idle tick's cost as pending jobs grow and a durable track()'s p99 under load. Run by hand:

    bash tests/bench/run-fire.sh                          # installs the peers, full run (~15 min)
    .venv/bin/python tests/bench/bench_fire.py --quick    # small sizes, a minute
    .venv/bin/python tests/bench/bench_fire.py --only engine_noop,django_batch --out fire.json
    .venv/bin/python tests/bench/bench_fire.py --table fire.json   # markdown from a JSON run

The workload is the same everywhere: N carts (default 20,000) with two items and an e-mail,
left two hours ago, whose first reminder is due. Each row is measured RUNS times (default 3)
on a fresh copy of the same prepared store, and the median counts. Set-up (filling the store,
the abandonment jobs, scheduling the peers' tasks) is never timed. Progress goes to stderr,
the markdown table to stdout. See docs/PERFORMANCE.md for what each row means.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "python"))  # raw_postgres, shared with the tests
if (ROOT / "plugin-adapters").is_dir():
    sys.path.insert(0, str(ROOT / "plugin-adapters"))

import cartrecovery as cr  # noqa: E402
from fire_peers import bare_sqlite  # noqa: E402
from raw_postgres import PostgresError, RawPostgres  # noqa: E402

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)       # the carts' last activity
T_ABANDON = T0 + timedelta(hours=1, minutes=1)    # abandonment jobs run (set-up)
T_IDLE = T0 + timedelta(hours=1, minutes=2)       # nothing due: the idle tick
T_FIRE = T0 + timedelta(hours=2, minutes=1)       # every first reminder is due
SETTINGS = {"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
            "secret": "bench-secret-not-for-production"}
PG_BASE = os.environ.get("CARTRECOVERY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_DB = os.environ.get("FIRE_REDIS", "redis://127.0.0.1:6379/15")

# The aims of issue 9, as ratios within one run.
AIM_NOOP_OVER_PEER = 10.0
AIM_NOOP_RATE = 50_000.0
AIM_PG4_OVER_PG1 = 3.0
AIM_TICK_1M_OVER_1K = 3.0
AIM_TRACK_P99_MS = 100.0

# Row key -> (group, label). The order is the table's.
ROWS = {
    "engine_noop": ("engine", "`run_due()` to a no-op CallbackChannel (SQLite)"),
    "engine_outbox": ("engine", "`run_due()` to OutboxChannel (SQLite)"),
    "pg_1": ("pg", "`run_due()` no-op, PostgreSQL, 1 worker process"),
    "pg_2": ("pg", "`run_due()` no-op, PostgreSQL, 2 worker processes"),
    "pg_4": ("pg", "`run_due()` no-op, PostgreSQL, 4 worker processes"),
    "django_row": ("peers", "Django ORM cron, per-row `save()`"),
    "django_batch": ("peers", "Django ORM cron, 500 per transaction"),
    "huey": ("peers", "Huey (SqliteHuey, scheduled tasks, 2 worker processes)"),
    "celery": ("peers", "Celery prefork (2), Redis broker, ETA tasks"),
    "bare_nobody": ("bare", "bare sqlite3 loop, a reminder's writes, 500/txn, no body"),
    "bare_5k": ("bare", "bare sqlite3 loop, a reminder's writes, 500/txn, 5 KB body"),
}
PEERS = ["django_row", "django_batch", "huey", "celery"]
READY = b"fire-peer ready"  # what fire_peers' consumers print once they take tasks
GROUPS = {"engine", "pg", "peers", "bare", "tick", "track"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(sorted_vals: list[float], p: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


class BenchError(Exception):
    """A row that could not be measured (wrong count, a peer that did not finish)."""


# ---- the engine's workload ---------------------------------------------------------------------

def bench_flow() -> dict:
    """The default flow with the first step two hours after the cart's last activity, so the
    abandonment jobs (at +1 h) run in the untimed set-up and the timed run_due() sends only
    first reminders."""
    doc = cr.default_flow().to_dict()
    for path in doc["paths"]:
        path["steps"][0]["after"] = "2h"
    return doc


def workload_events(carts: int, prefix: str = "c"):
    items = [{"sku": "KITE-1", "name": "Kite Pro 9m", "price": Decimal("19.99"), "quantity": 3},
             {"sku": "BOARD-2", "name": "Twin-Tip Board", "price": Decimal("249.00"), "quantity": 1}]
    for i in range(carts):
        yield {"type": "cart_updated", "cart_id": f"{prefix}{i}", "visitor_id": f"v{prefix}{i}",
               "items": items, "currency": "EUR"}
        yield {"type": "contact_captured", "cart_id": f"{prefix}{i}",
               "email": f"shopper{i}@example.com", "first_name": f"Ann{i}"}


def fill_store(url: str, carts: int) -> None:
    """`carts` left carts with a contact; runs their abandonment so each has its first
    reminder due at T0 + 2 h."""
    clock = cr.ManualClock(T0)
    engine = cr.Engine(store=url, flows=[bench_flow()], clock=clock, settings=SETTINGS)
    try:
        batch = []
        for event in workload_events(carts):
            batch.append(event)
            if len(batch) == 2000:
                engine.track_many(batch)
                batch = []
        if batch:
            engine.track_many(batch)
        engine.flush()
        ran = engine.run_due(T_ABANDON)
        if ran != carts:
            raise BenchError(f"set-up: {ran} abandonment jobs ran, expected {carts}")
    finally:
        engine.close()


def copy_sqlite(src: str, dst: str) -> None:
    """A consistent copy of an engine store (sqlite3's backup API, WAL kept)."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.remove(dst + suffix)
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def _fire_worker(url: str, channel: str, worker: int, barrier, results) -> None:
    """One worker process: opens the engine (untimed), waits for the others, runs what is due."""
    sent = [0]

    def noop(message) -> None:
        sent[0] += 1

    ch = cr.CallbackChannel(noop) if channel == "noop" else cr.OutboxChannel()
    engine = cr.Engine(store=url, flows=[bench_flow()], channels={"email": ch},
                       clock=cr.ManualClock(T_FIRE),
                       settings={**SETTINGS, "worker_id": f"bench-{worker}"})
    engine.status()  # the store is open and migrated before the clock starts
    barrier.wait(600)
    ran = engine.run_due()
    end = time.monotonic()
    engine.close()
    results.put({"worker": worker, "ran": ran, "delivered": sent[0], "end": end})


def fire(url: str, channel: str, workers: int, carts: int) -> dict:
    """Runs run_due() in `workers` spawned processes at once on a prepared store; the time is
    from the start barrier to the last process's end. The reminders counted are the store's
    messages_sent afterwards, which must be `carts`."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_fire_worker, args=(url, channel, w, barrier, results))
             for w in range(workers)]
    for p in procs:
        p.start()
    try:
        try:
            barrier.wait(600)
        except threading.BrokenBarrierError:
            raise BenchError("a worker process did not start") from None
        start = time.monotonic()
        out = [results.get(timeout=3600) for _ in procs]
        for p in procs:
            p.join(60)
            if p.exitcode != 0:
                raise BenchError(f"worker process exited with {p.exitcode}")
    finally:
        for p in procs:  # a bench stopped half-way leaves no worker behind
            if p.is_alive():
                p.terminate()
    seconds = max(r["end"] for r in out) - start
    check = cr.Engine(store=url, flows=[bench_flow()], clock=cr.ManualClock(T_FIRE), settings=SETTINGS)
    try:
        sent = check.status()["messages_sent"]
    finally:
        check.close()
    if sent != carts:
        raise BenchError(f"{sent} reminders sent, expected {carts}")
    if channel == "noop" and sum(r["delivered"] for r in out) != carts:
        raise BenchError(f"the channel saw {sum(r['delivered'] for r in out)} messages, expected {carts}")
    return {"count": sent, "seconds": seconds, "per_worker": sorted(r["ran"] for r in out)}


# ---- PostgreSQL: a bare libpq connection for CREATE DATABASE ... TEMPLATE -----------------------

def pg_drop(admin: RawPostgres, name: str) -> None:
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# ---- rows ---------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args, workdir: Path) -> None:
        self.args = args
        self.dir = workdir
        self.carts = args.carts
        self.runs = args.runs
        self._sqlite_src: str | None = None
        self._django_src: str | None = None
        self._pg_src: str | None = None
        self._admin: RawPostgres | None = None

    # -- prepared stores, made once, copied per run --
    def sqlite_src(self) -> str:
        if self._sqlite_src is None:
            path = str(self.dir / "engine-src.db")
            log(f"set-up: engine store with {self.carts} due reminders (SQLite)")
            t = time.perf_counter()
            fill_store("sqlite:///" + path, self.carts)
            log(f"set-up: {time.perf_counter() - t:.1f}s")
            self._sqlite_src = path
        return self._sqlite_src

    def pg_src(self) -> str:
        if self._pg_src is None:
            self._admin = RawPostgres(PG_BASE + "/postgres")
            name = f"crfire_src_{os.getpid()}"
            pg_drop(self._admin, name)
            self._admin.execute(f"CREATE DATABASE {name}")
            log(f"set-up: engine store with {self.carts} due reminders (PostgreSQL)")
            t = time.perf_counter()
            fill_store(f"{PG_BASE}/{name}", self.carts)
            log(f"set-up: {time.perf_counter() - t:.1f}s")
            self._pg_src = name
        return self._pg_src

    def django_src(self) -> str:
        if self._django_src is None:
            path = str(self.dir / "shop-src.db")
            peer(["-m", "fire_peers.shop", "create", "--db", path, "--carts", str(self.carts)], {})
            self._django_src = path
        return self._django_src

    def cleanup(self) -> None:
        if self._admin is not None:
            if self._pg_src:
                pg_drop(self._admin, self._pg_src)
            self._admin.close()

    # -- one run of each row; each returns {"count", "seconds", ...} --
    def run_engine(self, channel: str, i: int) -> dict:
        dst = str(self.dir / f"engine-{channel}-{i}.db")
        copy_sqlite(self.sqlite_src(), dst)
        try:
            return fire("sqlite:///" + dst, channel, 1, self.carts)
        finally:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(dst + suffix):
                    os.remove(dst + suffix)

    def run_pg(self, workers: int, i: int) -> dict:
        src = self.pg_src()
        name = f"crfire_run_{os.getpid()}"
        pg_drop(self._admin, name)
        self._admin.execute(f"CREATE DATABASE {name} TEMPLATE {src}")
        try:
            return fire(f"{PG_BASE}/{name}", "noop", workers, self.carts)
        finally:
            pg_drop(self._admin, name)

    def run_django(self, mode: str, i: int) -> dict:
        db = str(self.dir / f"shop-cron-{i}.db")
        shutil.copyfile(self.django_src(), db)
        try:
            out = json.loads(peer(["-m", "fire_peers.cron", "--mode", mode], {"FIRE_DB": db}))
        finally:
            os.remove(db)
        if out["sent"] != self.carts:
            raise BenchError(f"the cron sent {out['sent']}, expected {self.carts}")
        return {"count": out["sent"], "seconds": out["seconds"]}

    def run_queue(self, name: str, i: int) -> dict:
        """Huey or Celery: every task is scheduled (untimed) for one ETA, one second ahead;
        once the last is scheduled and the ETA has passed, the consumer starts. The time runs
        from the moment the consumer says it is ready to the last cart marked reminded."""
        db = str(self.dir / f"shop-{name}-{i}.db")
        shutil.copyfile(self.django_src(), db)
        env = {"FIRE_DB": db, "FIRE_HUEY_DB": str(self.dir / f"huey-{i}.db"), "FIRE_REDIS": REDIS_DB}
        consumer = None
        try:
            if name == "celery":
                redis_flush()
            out = json.loads(peer(["-m", "fire_peers.enqueue", name, "--carts", str(self.carts),
                                   "--lead", "1"], env))
            time.sleep(max(0.0, out["eta"] - time.time()))
            if name == "celery":
                consumer = start_consumer(["-m", "celery", "-A", "fire_peers.celery_app", "worker",
                                           "-P", "prefork", "-c", "2", "-l", "warning", "--without-heartbeat",
                                           "--without-gossip", "--without-mingle"], env)
            else:
                # -d/-m: poll an empty queue at least every 0.5 s (the default backs off to 10 s)
                consumer = start_consumer(["-m", "huey.bin.huey_consumer", "fire_peers.huey_app.huey",
                                           "-w", "2", "-k", "process", "-d", "0.1", "-m", "0.5", "-q"], env)
            first, last, count = wait_reminded(db, self.carts, consumer)
            return {"count": count, "seconds": last - consumer.ready_at, "first_after_ready": first - consumer.ready_at,
                    "scheduling_per_s": self.carts / out["seconds"]}
        finally:
            if consumer is not None:
                stop_consumer(consumer)
            for f in (db, env["FIRE_HUEY_DB"], env["FIRE_HUEY_DB"] + "-wal", env["FIRE_HUEY_DB"] + "-shm"):
                if os.path.exists(f):
                    os.remove(f)

    def run_bare(self, body: int, i: int) -> dict:
        db = str(self.dir / f"bare-{body}-{i}.db")
        try:
            out = bare_sqlite.measure(db, self.carts, body)
        finally:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
        if out["count"] != self.carts:
            raise BenchError(f"bare loop wrote {out['count']}, expected {self.carts}")
        return out

    def run_row(self, key: str, i: int) -> dict:
        if key == "engine_noop":
            return self.run_engine("noop", i)
        if key == "engine_outbox":
            return self.run_engine("outbox", i)
        if key.startswith("pg_"):
            return self.run_pg(int(key[3:]), i)
        if key == "django_row":
            return self.run_django("row", i)
        if key == "django_batch":
            return self.run_django("batch", i)
        if key in ("huey", "celery"):
            return self.run_queue(key, i)
        if key == "bare_nobody":
            return self.run_bare(0, i)
        if key == "bare_5k":
            return self.run_bare(5 * 1024, i)
        raise KeyError(key)

    def measure(self, key: str) -> dict:
        runs = []
        for i in range(self.runs):
            r = self.run_row(key, i)
            r["per_s"] = r["count"] / r["seconds"]
            log(f"{key} run {i + 1}/{self.runs}: {r['count']} in {r['seconds']:.2f}s = {r['per_s']:,.0f}/s")
            runs.append(r)
        return {"label": ROWS[key][1], "runs": runs,
                "median_per_s": statistics.median(r["per_s"] for r in runs)}

    # -- idle tick --
    def ticks(self, sizes: list[int]) -> dict:
        """run_due() with nothing due, on one store grown to each size of pending jobs: the
        first 1,000 (or the smallest size) are real journeys' first-step jobs made by the
        engine, the rest copies of one of them with their own subject and a later due time."""
        path = str(self.dir / "tick.db")
        base = min(1000, sizes[0])
        log(f"tick: set-up, {base} real pending jobs")
        fill_store("sqlite:///" + path, base)
        out = {}
        have = count_jobs(path)
        for size in sizes:
            if size > have:
                free = shutil.disk_usage(self.dir).free
                need = (size - have) * 400  # bytes per job row with its indexes, generously
                if need > free:
                    out[str(size)] = {"skipped": f"needs ~{need >> 30} GiB, {free >> 30} GiB free"}
                    log(f"tick: {size:,} pending does not fit on the disk, skipped")
                    continue
                t = time.perf_counter()
                pad_jobs(path, size - have)
                have = size
                log(f"tick: padded to {size:,} pending jobs in {time.perf_counter() - t:.1f}s")
            out[str(size)] = idle_tick(path, self.args.tick_seconds)
            log(f"tick at {size:,} pending: median {out[str(size)]['median_ms']:.3f} ms "
                f"(p99 {out[str(size)]['p99_ms']:.3f} ms, {out[str(size)]['calls']} calls)")
            if size == self.args.track_at:
                out["track"] = durable_track(path, size, self.args.track_rate, self.args.track_seconds)
                log(f"durable track() at {self.args.track_rate:,} ev/s, {size:,} pending, worker running: "
                    f"p99 {out['track']['p99_ms']:.2f} ms")
        os.remove(path)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return out


def count_jobs(path: str) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM jobs").fetchone()[0]
    finally:
        db.close()


def pad_jobs(path: str, extra: int) -> None:
    """Adds `extra` pending jobs, copies of a real one (every column as the engine wrote it)
    with a subject of their own and a due time after every real job."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")  # set-up only: the engine reopens with its own
        db.execute("PRAGMA cache_size=-1000000")
        cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)")]
        for needed in ("job_id", "subject", "due_ms"):
            if needed not in cols:
                raise BenchError(f"jobs has no column {needed}: the padding needs updating")
        row = db.execute(f"SELECT {', '.join(cols)} FROM jobs ORDER BY due_ms DESC LIMIT 1").fetchone()
        template = dict(zip(cols, row))
        start = db.execute("SELECT coalesce(max(job_id), 0) FROM jobs").fetchone()[0]
        copy_cols = [c for c in cols if c != "job_id"]
        exprs, params = [], []
        for c in copy_cols:
            if c == "subject":
                exprs.append("'pad-' || n")
            elif c == "due_ms":
                exprs.append("? + n")
                params.append(template["due_ms"] + 1)
            else:
                exprs.append("?")
                params.append(template[c])
        chunk = 1_000_000
        done = 0
        while done < extra:
            n = min(chunk, extra - done)
            db.execute("BEGIN")
            db.execute(f"WITH RECURSIVE s(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM s WHERE n < ?) "
                       f"INSERT INTO jobs({', '.join(copy_cols)}) SELECT {', '.join(exprs)} FROM s",
                       [start + done + 1, start + done + n] + params)
            db.execute("COMMIT")
            done += n
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def idle_tick(path: str, budget_s: float) -> dict:
    """Times run_due() at T_IDLE, when nothing is due: the worker's tick with nothing to do
    (it asks the store for the next due time). At most 300 calls or budget_s seconds."""
    engine = cr.Engine(store="sqlite:///" + path, flows=[bench_flow()], clock=cr.ManualClock(T_IDLE),
                       settings=SETTINGS)
    try:
        for _ in range(3):  # warm-up: statements prepared, pages cached, the heartbeat written
            if engine.run_due() != 0:
                raise BenchError("a job was due at the idle tick's time")
        lat = []
        deadline = time.perf_counter() + budget_s
        while len(lat) < 300 and (len(lat) < 5 or time.perf_counter() < deadline):
            s = time.perf_counter_ns()
            engine.run_due()
            lat.append(time.perf_counter_ns() - s)
    finally:
        engine.close()
    lat.sort()
    return {"calls": len(lat), "median_ms": statistics.median(lat) / 1e6, "p99_ms": pct(lat, 99) / 1e6,
            "max_ms": lat[-1] / 1e6}


def durable_track(path: str, pending: int, rate: int, seconds: float) -> dict:
    """A background thread tracks cart_updated at `rate` events/s while the worker runs
    (engine.start()) on a store with `pending` jobs; every 5 ms the main thread times a
    track(..., durable=True), which returns once the writer committed it."""
    engine = cr.Engine(store="sqlite:///" + path, flows=[bench_flow()], clock=cr.ManualClock(T_IDLE),
                       settings=SETTINGS)
    items = [{"sku": "KITE-1", "name": "Kite Pro 9m", "price": Decimal("19.99"), "quantity": 3}]
    stop = threading.Event()
    sent = [0]

    def background() -> None:
        t0 = time.perf_counter()
        n = 0
        while not stop.is_set():
            due = int((time.perf_counter() - t0) * rate)
            while n < due:
                try:
                    engine.track("cart_updated", cart_id=f"bg{n % 50000}", visitor_id=f"bgv{n % 50000}",
                                 items=items, currency="EUR")
                except cr.QueueFullError:
                    pass
                n += 1
            time.sleep(0.001)
        sent[0] = n

    lat = []
    engine.start()
    try:
        th = threading.Thread(target=background, daemon=True)
        th.start()
        t_start = time.perf_counter()
        time.sleep(0.5)  # let the load settle
        i = 0
        # `seconds` of probes, at least 50 unless the writer is so far behind that 50 would
        # take more than a minute (the probes then say so on their own)
        while True:
            elapsed = time.perf_counter() - t_start
            if elapsed >= seconds + 0.5 and (len(lat) >= 50 or elapsed >= seconds + 60):
                break
            s = time.perf_counter_ns()
            engine.track("cart_updated", durable=True, cart_id=f"probe{i % 1000}", visitor_id=f"pv{i % 1000}",
                         items=items, currency="EUR")
            lat.append(time.perf_counter_ns() - s)
            i += 1
            time.sleep(0.005)
        stop.set()
        th.join()
        achieved = sent[0] / (time.perf_counter() - t_start)
    finally:
        engine.close()
    lat.sort()
    return {"pending": pending, "rate": rate, "achieved_rate": achieved, "probes": len(lat),
            "median_ms": statistics.median(lat) / 1e6, "p99_ms": pct(lat, 99) / 1e6, "max_ms": lat[-1] / 1e6}


# ---- peers' processes -------------------------------------------------------------------------

def peer_env(extra: dict) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra)
    return env


def peer(args: list[str], extra_env: dict) -> str:
    res = subprocess.run([sys.executable] + args, env=peer_env(extra_env), cwd=str(HERE),
                         capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        raise BenchError(f"{' '.join(args[:2])} failed: {res.stderr.strip()[-2000:]}")
    lines = res.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def start_consumer(args: list[str], extra_env: dict) -> subprocess.Popen:
    """Starts a consumer in its own process group; returns once its log has the READY line,
    with the time that line carries (written by the consumer as it became ready) as
    `proc.ready_at`."""
    logf = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable] + args, env=peer_env(extra_env), cwd=str(HERE),
                            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    proc.logf = logf  # type: ignore[attr-defined]
    deadline = time.time() + 120
    while True:
        logf.seek(0)
        text = logf.read()
        ready = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(READY)]
        if ready:
            proc.ready_at = min(ready)  # type: ignore[attr-defined]
            return proc
        if proc.poll() is not None or time.time() > deadline:
            stop_consumer(proc)
            raise BenchError(f"{args[1]} did not start: {text.decode(errors='replace')[-2000:]}")
        time.sleep(0.05)


def stop_consumer(proc: subprocess.Popen) -> None:
    """Stops the consumer we started (its process group: the pool's children too)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group
    except (ProcessLookupError, PermissionError):
        pass


def redis_flush() -> None:
    db = REDIS_DB.rsplit("/", 1)[-1]
    res = subprocess.run(["redis-cli", "-n", db, "flushdb"], capture_output=True, text=True, timeout=30)
    if res.returncode != 0 or "OK" not in res.stdout:
        raise BenchError(f"redis-cli flushdb failed: {res.stdout} {res.stderr}")


def wait_reminded(db_path: str, carts: int, consumer) -> tuple[float, float, int]:
    """Polls the shop's Cart table until every cart is reminded (or nothing moves for 60 s);
    returns the first and last reminded_at (epoch seconds) and the count."""
    last_change, count, seen = time.time(), 0, -1
    while True:
        time.sleep(0.5)
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=60)
        try:
            count = db.execute("SELECT count(*) FROM fire_peers_cart WHERE reminded_at IS NOT NULL").fetchone()[0]
            if count >= carts:
                first, last = db.execute("SELECT min(reminded_at), max(reminded_at) FROM fire_peers_cart").fetchone()
                break
        finally:
            db.close()
        if count != seen:
            seen, last_change = count, time.time()
        elif time.time() - last_change > 60:
            consumer.logf.seek(0)
            tail = consumer.logf.read().decode(errors="replace")[-1500:]
            raise BenchError(f"stuck at {count}/{carts} reminded: {tail}")

    def epoch(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    return epoch(first), epoch(last), count


# ---- the machine, the table ---------------------------------------------------------------------

def machine() -> dict:
    def first_line(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except Exception:
            return "?"

    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except Exception:
        pass
    mem = "?"
    try:
        mem = f"{int(open('/proc/meminfo').readline().split()[1]) / 1048576:.0f} GiB"
    except Exception:
        pass
    debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"
    versions = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                "postgresql": first_line(["psql", "--version"]), "redis": first_line(["redis-server", "--version"])}
    for mod in ("django", "huey", "celery", "redis"):
        try:
            versions[mod + "_py" if mod == "redis" else mod] = __import__(mod).__version__
        except Exception:
            versions[mod + "_py" if mod == "redis" else mod] = "not installed"
    core = Path(cr._core.__file__)
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": mem, "debian": debian,
            "kernel": platform.release(), "disk": disk(),
            "versions": versions, "core": str(core),
            "core_built": datetime.fromtimestamp(core.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "load_at_start": os.getloadavg()}


def disk() -> str:
    """The temp directory's filesystem (device, type, size) and the device's rotational flag."""
    try:
        out = subprocess.run(["df", "-h", "--output=source,fstype,size", tempfile.gettempdir()],
                             capture_output=True, text=True, timeout=10).stdout.split()[3:]
        dev = Path(out[0]).name
        rot = Path(f"/sys/block/{dev}/queue/rotational")
        # as the kernel reports it (virtio disks often say 1 whatever is behind them)
        kind = f"rotational={rot.read_text().strip()}" if rot.exists() else "?"
        return f"{out[0]} {out[1]} {out[2]} ({kind})"
    except Exception:
        return "?"


def ratios(result: dict) -> dict:
    rows = result["rows"]
    med = {k: v["median_per_s"] for k, v in rows.items() if "median_per_s" in v}
    out = {}
    peers = {k: med[k] for k in PEERS if k in med}
    if peers:
        fastest = max(peers, key=peers.get)
        out["fastest_peer"] = fastest
        for k in med:
            out[f"{k}/fastest_peer"] = med[k] / peers[fastest]
    if "bare_nobody" in med:
        for k in med:
            out[f"{k}/bare"] = med[k] / med["bare_nobody"]
    for w in (2, 4):
        if f"pg_{w}" in med and "pg_1" in med:
            out[f"pg_{w}/pg_1"] = med[f"pg_{w}"] / med["pg_1"]
    ticks = result.get("ticks", {})
    base = ticks.get("1000") or ticks.get(str(min((int(k) for k in ticks if k.isdigit()), default=0)))
    if base and "median_ms" in base:
        for k, v in ticks.items():
            if k.isdigit() and "median_ms" in v:
                out[f"tick_{k}/tick_base"] = v["median_ms"] / base["median_ms"]
    return out


def aims(result: dict) -> list[tuple[str, str, bool | None]]:
    rows, r = result["rows"], result["ratios"]
    out = []
    if "engine_noop" in rows and "fastest_peer" in r:
        v = r["engine_noop/fastest_peer"]
        out.append(("`run_due()` no-op at least 10x the fastest peer", f"{v:.1f}x", v >= AIM_NOOP_OVER_PEER))
    if "engine_noop" in rows:
        v = rows["engine_noop"]["median_per_s"]
        out.append(("`run_due()` no-op at least 50,000 reminders/s on SQLite", f"{v:,.0f}/s", v >= AIM_NOOP_RATE))
    if "pg_4/pg_1" in r:
        v = r["pg_4/pg_1"]
        out.append(("4 PostgreSQL workers at least 3x one", f"{v:.2f}x", v >= AIM_PG4_OVER_PG1))
    ticks = result.get("ticks", {})
    if "1000" in ticks and "1000000" in ticks and "median_ms" in ticks["1000000"]:
        v = ticks["1000000"]["median_ms"] / ticks["1000"]["median_ms"]
        out.append(("idle tick at 1M pending at most 3x the tick at 1k", f"{v:.1f}x", v <= AIM_TICK_1M_OVER_1K))
    if "track" in ticks:
        t = ticks["track"]
        out.append((f"durable `track()` p99 within 100 ms at {t['rate']:,} events/s",
                    f"{t['p99_ms']:.1f} ms", t["p99_ms"] <= AIM_TRACK_P99_MS))
    return out


def markdown(result: dict) -> str:
    rows, r, m = result["rows"], result.get("ratios", {}), result["meta"]
    lines = [f"{m['carts']:,} carts whose first reminder is due; each row run {m['runs']} times, median "
             f"(reminders/s; runs in brackets). {m['started']}, {m['seconds'] / 60:.1f} min."]
    if rows:
        lines += ["", "| how | reminders/s | runs | vs fastest peer | vs bare loop (no body) |",
                  "|---|---:|---|---:|---:|"]
    for key, (group, label) in ROWS.items():
        if key not in rows:
            continue
        row = rows[key]
        if "error" in row:
            lines.append(f"| {label} | not measured: {row['error'][:120]} | | | |")
            continue
        runs = "(" + ", ".join(f"{x['per_s']:,.0f}" for x in row["runs"]) + ")"
        vs_peer = f"{r[key + '/fastest_peer']:.2f}x" if key + "/fastest_peer" in r else ""
        vs_bare = f"{r[key + '/bare']:.3f}x" if key + "/bare" in r else ""
        extra = ""
        if key in ("pg_2", "pg_4") and f"{key}/pg_1" in r:
            extra = f" ({r[key + '/pg_1']:.2f}x 1 worker)"
        lines.append(f"| {label} | {row['median_per_s']:,.0f}{extra} | {runs} | {vs_peer} | {vs_bare} |")
    if "fastest_peer" in r:
        lines.append("")
        lines.append(f"Fastest peer in this run: {ROWS[r['fastest_peer']][1]}.")
    ticks = result.get("ticks")
    if ticks:
        lines += ["", "Idle tick: `run_due()` with nothing due (the worker's tick), SQLite.", "",
                  "| pending jobs | median | p99 | calls | vs smallest |", "|---:|---:|---:|---:|---:|"]
        for k, v in ticks.items():
            if not k.isdigit():
                continue
            if "skipped" in v:
                lines.append(f"| {int(k):,} | skipped: {v['skipped']} | | | |")
                continue
            ratio = r.get(f"tick_{k}/tick_base")
            lines.append(f"| {int(k):,} | {v['median_ms']:.3f} ms | {v['p99_ms']:.3f} ms | {v['calls']} | "
                         f"{'' if ratio is None else f'{ratio:.1f}x'} |")
        if "track" in ticks:
            t = ticks["track"]
            lines += ["", f"Durable `track()` with {t['rate']:,} events/s arriving (achieved {t['achieved_rate']:,.0f}),"
                      f" the worker running, {t['pending']:,} pending jobs: median {t['median_ms']:.2f} ms,"
                      f" p99 {t['p99_ms']:.2f} ms, max {t['max_ms']:.1f} ms ({t['probes']} probes)."]
    checks = aims(result)
    if checks:
        lines += ["", "| aim (issue 9) | this run | |", "|---|---:|---|"]
        for what, value, ok in checks:
            lines.append(f"| {what} | {value} | {'met' if ok else 'NOT met'} |")
    return "\n".join(lines)


def save(path: str | None, result: dict, started: float) -> None:
    """Completes the result (time so far, ratios, aims) and writes it if asked."""
    result["meta"]["seconds"] = time.time() - started
    result["ratios"] = ratios(result)
    result["aims"] = [{"aim": a, "value": v, "met": ok} for a, v, ok in aims(result)]
    if path:
        Path(path).write_text(json.dumps(result, indent=2))


def parse_only(text: str | None) -> set[str]:
    if not text:
        return set(ROWS) | {"tick", "track"}
    chosen = set()
    for part in text.split(","):
        part = part.strip()
        if part in ROWS or part in ("tick", "track"):
            chosen.add(part)
        elif part in GROUPS:
            chosen |= {k for k, (g, _) in ROWS.items() if g == part}
        else:
            raise SystemExit(f"--only: unknown row {part!r}; rows: {', '.join(list(ROWS) + ['tick', 'track'])}; "
                             f"groups: {', '.join(sorted(GROUPS))}")
    return chosen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (300 carts, 1 run, ticks to 10k)")
    ap.add_argument("--only", help="comma-separated rows or groups (engine, pg, peers, bare, tick, track)")
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--table", metavar="JSON", help="print the markdown table of a JSON result and exit")
    ap.add_argument("--carts", type=int, help="carts whose first reminder is due (default 20000)")
    ap.add_argument("--runs", type=int, help="runs per row, the median counts (default 3)")
    ap.add_argument("--ticks", help="pending-job sizes for the idle tick (default 1000,100000,1000000,10000000)")
    ap.add_argument("--dir", help="parent of the temporary directory (a real disk)")
    args = ap.parse_args(argv)
    if args.table:
        print(markdown(json.loads(Path(args.table).read_text())))
        return 0
    args.carts = args.carts or (300 if args.quick else 20_000)
    args.runs = args.runs or (1 if args.quick else 3)
    sizes = args.ticks or ("1000,10000" if args.quick else "1000,100000,1000000,10000000")
    sizes = sorted(int(s) for s in sizes.split(","))
    args.tick_seconds = 0.3 if args.quick else 10.0
    args.track_at = 1_000_000 if 1_000_000 in sizes else sizes[-1]
    args.track_rate = 10_000
    args.track_seconds = 0.5 if args.quick else 10.0
    only = parse_only(args.only)
    if "track" in only:
        only.add("tick")

    # kill/Ctrl-C still drop the PostgreSQL databases and stop the consumers (finally blocks)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    result = {"meta": {"carts": args.carts, "runs": args.runs, "quick": args.quick,
                       "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                       "command": " ".join([Path(sys.executable).name] + sys.argv), "machine": machine()},
              "rows": {}}
    with tempfile.TemporaryDirectory(prefix="bench-fire-", dir=args.dir) as tmp:
        bench = Bench(args, Path(tmp))
        try:
            # PostgreSQL last: the longest rows, so a run cut short still has the ratios
            # against the peers; the JSON is rewritten after every row for the same reason.
            for key in sorted(ROWS, key=lambda k: ROWS[k][0] == "pg"):
                if key == "pg_1" and "tick" in only:
                    if "track" not in only:
                        args.track_at = -1
                    result["ticks"] = bench.ticks(sizes)
                    save(args.out, result, started)
                if key not in only:
                    continue
                try:
                    result["rows"][key] = bench.measure(key)
                except (BenchError, PostgresError, subprocess.TimeoutExpired) as e:
                    log(f"{key}: not measured: {e}")
                    result["rows"][key] = {"label": ROWS[key][1], "error": str(e)}
                save(args.out, result, started)
        finally:
            bench.cleanup()
    save(args.out, result, started)
    print(markdown(result))
    return 1 if any("error" in v for v in result["rows"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
