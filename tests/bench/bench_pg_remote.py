"""PostgreSQL one network hop away: bench_fire.py's pg rows (N spawned worker processes call
run_due() at once, no-op channel, the issue's workload) with the workers talking to the server
through a proxy that delays every chunk by half a round trip in each direction.

    PYTHONPATH=plugin-adapters .venv/bin/python tests/bench/bench_pg_remote.py \
        --carts 10000 --runs 3 --workers 1,2,4 --rtt 0,1,2

Why: a shop that spreads over several hosts runs its workers on machines other than the
database's. On one 2-core machine the workers and the server share the cores, so adding
workers adds no CPU; what a worker on another host meets first is the network: every
round trip it waits for is a wait the server's CPU does not see. The loopback interface here
has no netem (no qdisc support in this kernel), hence the proxy. It runs in a process of its
own, with a thread per direction per connection that sleeps until each chunk is due, so the
order of the bytes is kept and only their time moves. --rtt 0 is the direct connection (no
proxy). Its own CPU is small (a reminder costs about 0.2 round trips: its writes travel in
libpq's pipeline) but it shares the same two cores, so read the ratios as a lower bound of
what separate hosts would give. Run by hand; the numbers move with the machine's load.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_fire as bf  # noqa: E402


def _pipe(src: socket.socket, dst: socket.socket, delay: float) -> None:
    """Copies src to dst, each chunk sent `delay` seconds after it arrived, in order."""
    due: queue.Queue = queue.Queue()

    def send() -> None:
        while True:
            at, data = due.get()
            if data is None:
                break
            wait = at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                dst.sendall(data)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    while True:
        try:
            data = src.recv(1 << 16)
        except OSError:
            data = b""
        due.put((time.monotonic() + delay, data or None))
        if not data:
            break
    sender.join()


def _proxy(listen: socket.socket, target: tuple[str, int], one_way: float) -> None:
    while True:
        client, _ = listen.accept()
        server = socket.create_connection(target)
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_pipe, args=(client, server, one_way), daemon=True).start()
        threading.Thread(target=_pipe, args=(server, client, one_way), daemon=True).start()


def serve_proxy(port_out, target: tuple[str, int], rtt_ms: float) -> None:
    listen = socket.socket()
    listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listen.bind(("127.0.0.1", 0))
    listen.listen(64)
    port_out.put(listen.getsockname()[1])
    _proxy(listen, target, rtt_ms / 2000)


def start_proxy(rtt_ms: float) -> tuple[multiprocessing.Process, int]:
    host, port = bf.PG_BASE.rsplit("@", 1)[1].split(":")
    ctx = multiprocessing.get_context("spawn")
    port_out = ctx.Queue()
    proc = ctx.Process(target=serve_proxy, args=(port_out, (host, int(port)), rtt_ms), daemon=True)
    proc.start()
    return proc, port_out.get(timeout=30)


def measured_rtt(url: str) -> float:
    """`SELECT 1` on one open connection, median of 50, in ms: the round trip a worker meets
    (the server's work for it is a few microseconds)."""
    conn = bf.RawPostgres(url)
    try:
        times = []
        for _ in range(50):
            t = time.perf_counter()
            conn.execute("SELECT 1")
            times.append((time.perf_counter() - t) * 1000)
    finally:
        conn.close()
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--carts", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--rtt", default="0,1,2", help="added round trip in ms; 0 is the direct connection")
    args = ap.parse_args()
    workers = [int(x) for x in args.workers.split(",")]
    admin = bf.RawPostgres(bf.PG_BASE + "/postgres")
    src = f"crremote_src_{os.getpid()}"
    run_db = f"crremote_run_{os.getpid()}"
    bf.pg_drop(admin, src)
    admin.execute(f"CREATE DATABASE {src}")
    print(f"{'rtt':>6} {'measured':>9} {'workers':>8} {'reminders/s':>12}  runs            vs 1 worker")
    try:
        bf.fill_store(f"{bf.PG_BASE}/{src}", args.carts)
        for rtt in [float(x) for x in args.rtt.split(",")]:
            proxy, port = start_proxy(rtt) if rtt > 0 else (None, None)
            try:
                base = bf.PG_BASE if proxy is None else f"postgresql://postgres@127.0.0.1:{port}"
                shown = f"{measured_rtt(base + '/postgres'):.2f}ms"
                one = None
                for w in workers:
                    rates = []
                    for _ in range(args.runs):
                        bf.pg_drop(admin, run_db)
                        admin.execute(f"CREATE DATABASE {run_db} TEMPLATE {src}")
                        try:
                            r = bf.fire(f"{base}/{run_db}", "noop", w, args.carts)
                        finally:
                            bf.pg_drop(admin, run_db)
                        rates.append(r["count"] / r["seconds"])
                    rate = statistics.median(rates)
                    one = rate if w == 1 else one
                    ratio = f"{rate / one:.2f}x" if one else ""
                    print(f"{rtt:>4g}ms {shown:>9} {w:>8} {rate:>12,.0f}  "
                          f"{', '.join(f'{x:,.0f}' for x in rates):<15} {ratio}", flush=True)
            finally:
                if proxy is not None:
                    proxy.terminate()
    finally:
        bf.pg_drop(admin, run_db)
        bf.pg_drop(admin, src)
        admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
