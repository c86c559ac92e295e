"""What a worker tick costs with nothing due, as the number of pending jobs grows.

    PYTHONPATH=plugin-adapters .venv/bin/python tests/bench/bench_tick.py \
        [--pending 1000,100000,1000000] [--store sqlite|postgresql] [--pg URL]

Run by hand (never collected by pytest). For each size a store gets that many pending jobs
due in a year (written behind the engine's back in one statement), then `run_due()` is
called `--ticks` times with nothing due; the table gives the median and p99 per tick. A tick
that costs what is due, not what is pending, stays flat down the column. Also times one
claim of a batch out of a backlog of `--due` due jobs (the claim reads at most twice the
batch however large the backlog). Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import cartrecovery as cr

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
T0_MS = int(T0.timestamp() * 1000)
YEAR_MS = 365 * 86400 * 1000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fill_sqlite(path: str, pending: int, due_ms_base: int) -> None:
    db = sqlite3.connect(path)
    db.execute(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)"
        " INSERT INTO jobs(kind, subject, due_ms, state, lease_until_ms, attempt)"
        " SELECT 'bench', 'j' || x, ? + x, 'pending', 0, 0 FROM n", (pending, due_ms_base))
    db.commit()
    db.execute("ANALYZE")
    db.close()


def fill_postgres(url: str, schema: str, pending: int, due_ms_base: int) -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
    from raw_postgres import RawPostgres  # a bare libpq connection, no driver needed
    raw = RawPostgres(url)
    raw.execute(f"SET search_path TO {schema}")
    raw.execute(
        "INSERT INTO jobs(kind, subject, due_ms, state, lease_until_ms, attempt)"
        f" SELECT 'bench', 'j' || x, {due_ms_base} + x, 'pending', 0, 0"
        f" FROM generate_series(1, {pending}) x")
    raw.execute("ANALYZE jobs")
    raw.close()


def drop_schema(url: str, schema: str) -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
    from raw_postgres import RawPostgres
    raw = RawPostgres(url)
    raw.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    raw.close()


def one_size(args, work: str, pending: int) -> dict:
    clock = cr.ManualClock(T0)
    if args.store == "sqlite":
        path = os.path.join(work, f"tick-{pending}.db")
        url = f"sqlite:///{path}"
    else:
        schema = f"bench_tick_{pending}_{os.getpid()}"
        url = f"{args.pg}{'&' if '?' in args.pg else '?'}schema={schema}"
    engine = cr.Engine(store=url, clock=clock, settings={"shop_name": "Bench"})
    engine.run_due()  # creates the schema; the first heartbeat
    t = time.perf_counter()
    if args.store == "sqlite":
        fill_sqlite(path, pending, T0_MS + YEAR_MS)
    else:
        fill_postgres(args.pg, schema, pending, T0_MS + YEAR_MS)
    log(f"  {pending:>10,} pending written in {time.perf_counter() - t:.1f} s")
    for _ in range(20):
        engine.run_due()  # warm the statement caches and pages
    ticks = []
    for _ in range(args.ticks):
        t = time.perf_counter_ns()
        ran = engine.run_due()
        ticks.append(time.perf_counter_ns() - t)
        assert ran == 0
    ticks.sort()
    # A backlog: move `--due` of them into the past, then time claiming one batch of them.
    claim_ms = None
    if args.due:
        n = min(args.due, pending)
        if args.store == "sqlite":
            db = sqlite3.connect(path)
            db.execute("UPDATE jobs SET due_ms = due_ms - ? WHERE job_id IN"
                       " (SELECT job_id FROM jobs ORDER BY due_ms LIMIT ?)", (2 * YEAR_MS, n))
            db.commit()
            db.close()
        else:
            sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
            from raw_postgres import RawPostgres
            raw = RawPostgres(args.pg)
            raw.execute(f"SET search_path TO {schema}")
            raw.execute(f"UPDATE jobs SET due_ms = due_ms - {2 * YEAR_MS} WHERE job_id IN"
                        f" (SELECT job_id FROM jobs ORDER BY due_ms LIMIT {n})")
            raw.close()
        # The 'bench' kind is unknown to the engine: each claimed job is just finished, so
        # the first claim's cost dominates one run_due() of a single batch; time the whole
        # run and divide by the batches it needed.
        t = time.perf_counter()
        ran = engine.run_due()
        claim_ms = (time.perf_counter() - t) * 1000 / max(ran, 1)
    engine.close()
    if args.store != "sqlite":
        drop_schema(args.pg, schema)
    return {"pending": pending, "median_ms": statistics.median(ticks) / 1e6,
            "p99_ms": ticks[min(len(ticks) - 1, int(len(ticks) * 0.99))] / 1e6,
            "per_due_job_ms": claim_ms}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pending", default="1000,100000,1000000")
    ap.add_argument("--ticks", type=int, default=2000)
    ap.add_argument("--due", type=int, default=0,
                    help="also run a backlog of this many due jobs and give the cost per job")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg", default=os.environ.get("CARTRECOVERY_TEST_PG",
                                                   "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--dir", default=None, help="parent of the temporary directory")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cr-bench-tick-", dir=args.dir)
    rows = []
    for n in (int(x) for x in args.pending.split(",")):
        log(f"{args.store}: {n:,} pending")
        rows.append(one_size(args, work, n))
    print(f"idle tick, {args.store} ({args.ticks} ticks per size)")
    print(f"{'pending':>12} {'median ms':>10} {'p99 ms':>10} {'ms/due job':>11}")
    for r in rows:
        per = f"{r['per_due_job_ms']:.4f}" if r["per_due_job_ms"] is not None else "-"
        print(f"{r['pending']:>12,} {r['median_ms']:>10.4f} {r['p99_ms']:>10.4f} {per:>11}")
    base = rows[0]["median_ms"]
    print(f"largest / smallest median: {rows[-1]['median_ms'] / base:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
