"""Reminders per second to a real SMTP server: N carts whose first reminder is due, one
`run_due()` through an SmtpChannel with 1 or 4 connections to a local aiosmtpd sink that
answers each DATA after a configurable pause (0 ms: the client's and sink's own cost; 20 ms:
a relay across a network, where connections in parallel pay off).

    PYTHONPATH=plugin-adapters .venv/bin/python tests/bench/bench_smtp.py \
        [--carts 2000] [--delays 0,20] [--connections 1,4] [--repeat 1]

Run by hand (never collected by pytest). The sink runs in a process of its own (so that its
Python does not share the worker's GIL) and counts what it accepted; the bench checks that
every reminder arrived once. Carts are written and abandoned before the clock starts; the
timed part is the run at the first reminder's due time, as in bench_steps.py.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def serve(port: int, delay_ms: float) -> None:
    """The sink: accepts every message after `delay_ms`; prints its count on stdin's EOF."""
    from aiosmtpd.controller import Controller

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
            Sink.count += 1
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(Sink.count, flush=True)
    controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(args, work: str, i: int, delay_ms: float, connections: int) -> float:
    import cartrecovery as cr
    from bench_steps import fire_first_reminders  # the same carts and timing as bench_steps

    port = free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--delay-ms",
                             str(delay_ms)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert sink.stdout.readline().strip() == "ready"
        clock = cr.ManualClock(T0)
        channel = cr.SmtpChannel("127.0.0.1", port, starttls=False, timeout=30,
                                 sender="Bench <shop@bench.example>", connections=connections)
        engine = cr.Engine(store=f"sqlite:///{os.path.join(work, f'smtp-{i}.db')}", clock=clock,
                           channels={"email": channel},
                           settings={"shop_name": "Bench", "base_url": "https://shop.example/cr/"})
        elapsed, _ = fire_first_reminders(engine, clock, args.carts)
        sent = engine.status()["messages_sent"]
        engine.close()
        sink.stdin.write("count\n")
        sink.stdin.flush()
        arrived = int(sink.stdout.readline())
        assert sent == args.carts == arrived, (sent, args.carts, arrived)
        return args.carts / elapsed
    finally:
        sink.stdin.close()
        sink.wait(30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--carts", type=int, default=2000)
    p.add_argument("--delays", default="0,20", help="sink pause per DATA, ms, comma-separated")
    p.add_argument("--connections", default="1,4", help="comma-separated")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--delay-ms", type=float, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.delay_ms)
        return
    import cartrecovery as cr

    print(f"# {args.carts} reminders, run_due() to aiosmtpd on 127.0.0.1; _core: "
          f"{cr._core.__file__} (built {time.ctime(os.path.getmtime(cr._core.__file__))}); "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{'sink delay':>10}  {'connections':>11}  {'reminders/s':>11}")
    with tempfile.TemporaryDirectory() as work:
        run = 0
        for delay in (float(d) for d in args.delays.split(",")):
            for connections in (int(c) for c in args.connections.split(",")):
                rates = []
                for _ in range(args.repeat):
                    rates.append(one_run(args, work, run, delay, connections))
                    run += 1
                print(f"{delay:>8g}ms  {connections:>11}  {statistics.median(rates):>11,.0f}",
                      flush=True)


if __name__ == "__main__":
    main()
