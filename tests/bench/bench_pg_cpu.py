"""CPU per reminder on PostgreSQL: bench_fire.py's pg rows (N spawned workers, run_due(), no-op
channel) with the CPU seconds of the worker processes and of their PostgreSQL backends.

    PYTHONPATH=plugin-adapters .venv/bin/python tests/bench/bench_pg_cpu.py --carts 20000 --workers 1,4

Worker CPU: each process's getrusage(RUSAGE_SELF) around run_due() (user + system). Backend
CPU: /proc/<pid>/stat utime + stime of the connections to the run's database, read while the
workers still hold them open (before and after run_due()); the server's shared processes
(WAL writer, checkpointer) are not in it. WAL bytes: pg_current_wal_lsn() before and after
run_due(), the whole server's (quiet it first). HOT updates: pg_stat_user_tables of the run's
database, "HOT/all" for the rows a reminder updates (journeys, messages, contacts). Set CARTRECOVERY_PG_COUNT=1 to have each worker
print its round trips by statement (pg_db.cpp). Run by hand; numbers move with machine load.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_fire as bf  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime, stime


def backends(admin, db: str) -> list[int]:
    rows = admin.execute(f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'"
                         " AND application_name LIKE 'cartrecovery%'")
    return [int(r[0]) for r in rows]


def _worker(url: str, worker: int, barrier, results, done) -> None:
    engine = bf.cr.Engine(store=url, flows=[bf.bench_flow()],
                          channels={"email": bf.cr.CallbackChannel(lambda m: None)},
                          clock=bf.cr.ManualClock(bf.T_FIRE),
                          settings={**bf.SETTINGS, "worker_id": f"bench-{worker}"})
    engine.status()
    barrier.wait(600)  # the parent reads the backends' CPU in between
    barrier.wait(600)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    ran = engine.run_due()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    end = time.monotonic()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    results.put({"ran": ran, "cpu": cpu, "end": end})
    done.wait(600)  # the connection stays open until the parent has read its backend
    engine.close()


def run(admin, src: str, workers: int, carts: int) -> dict:
    name = f"crcpu_run_{os.getpid()}"
    bf.pg_drop(admin, name)
    admin.execute(f"CREATE DATABASE {name} TEMPLATE {src}")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    done = ctx.Event()
    results = ctx.Queue()
    url = f"{bf.PG_BASE}/{name}"
    procs = [ctx.Process(target=_worker, args=(url, w, barrier, results, done)) for w in range(workers)]
    try:
        for p in procs:
            p.start()
        barrier.wait(600)
        pids = backends(admin, name)
        before = {pid: proc_cpu(pid) for pid in pids}
        lsn = admin.execute("SELECT pg_current_wal_lsn()")[0][0]
        barrier.wait(600)
        start = time.monotonic()
        out = [results.get(timeout=3600) for _ in procs]
        server = sum(proc_cpu(pid) - before[pid] for pid in pids)
        wal = int(admin.execute(f"SELECT pg_current_wal_lsn() - '{lsn}'::pg_lsn")[0][0])
        done.set()
        for p in procs:
            p.join(60)
        hot = hot_updates(f"{bf.PG_BASE}/{name}", sum(r["ran"] for r in out))
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        bf.pg_drop(admin, name)
    seconds = max(r["end"] for r in out) - start
    ran = sum(r["ran"] for r in out)
    client = sum(r["cpu"] for r in out)
    return {"workers": workers, "ran": ran, "backends": len(pids), "seconds": seconds,
            "rate": ran / seconds, "client_us": client / ran * 1e6, "server_us": server / ran * 1e6,
            "wal_bytes": wal / ran, "hot": hot}


def hot_updates(url: str, ran: int) -> str:
    """HOT updates of the rows a reminder updates, "hot/updates" per table, as the run's
    database counts them once the workers' backends have ended (they hand their counts over
    as they exit; waited for up to 10 s)."""
    conn = bf.RawPostgres(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            rows = conn.execute("SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                                " WHERE relname IN ('journeys', 'messages', 'contacts') ORDER BY relname")
            counted = {r[0]: (int(r[1]), int(r[2])) for r in rows}
            if counted.get("journeys", (0, 0))[0] >= ran or time.monotonic() > deadline:
                return ", ".join(f"{t} {h}/{u}" for t, (u, h) in counted.items())
            time.sleep(0.1)
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--carts", type=int, default=20000)
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    admin = bf.RawPostgres(bf.PG_BASE + "/postgres")
    src = f"crcpu_src_{os.getpid()}"
    bf.pg_drop(admin, src)
    admin.execute(f"CREATE DATABASE {src}")
    try:
        bf.fill_store(f"{bf.PG_BASE}/{src}", args.carts)
        for _ in range(args.runs):
            for w in [int(x) for x in args.workers.split(",")]:
                r = run(admin, src, w, args.carts)
                print(f"pg_{w}: {r['ran']} reminders in {r['seconds']:.2f}s = {r['rate']:,.0f}/s;"
                      f" CPU per reminder: workers {r['client_us']:.0f} us, backends {r['server_us']:.0f} us"
                      f" (total {r['client_us'] + r['server_us']:.0f} us; load {os.getloadavg()[0]:.1f});"
                      f" WAL {r['wal_bytes']:,.0f} bytes per reminder; HOT updates: {r['hot']}",
                      flush=True)
    finally:
        bf.pg_drop(admin, src)
        admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
