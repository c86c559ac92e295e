"""Reminders per second through the step pipeline: N carts whose first reminder is due,
one `run_due()` to a CallbackChannel that does nothing (or to the outbox).

    PYTHONPATH=plugin-adapters .venv/bin/python tests/bench/bench_steps.py \
        [--carts 5000] [--channel noop|outbox] [--store sqlite|postgresql] [--repeat 3]

Run by hand (never collected by pytest); a focused companion of bench_fire.py for working
on the delivery path. Carts are written (and abandoned) before the clock starts; the timed
part is the run at the first reminder's due time. Median of --repeat fresh stores.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import cartrecovery as cr

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def fire_first_reminders(engine: cr.Engine, clock: cr.ManualClock, carts: int) -> tuple[float, int]:
    """`carts` carts with an e-mail left at T0, their abandonment run untimed; then the timed
    run_due() at the first reminder's due time. Returns (seconds, jobs run)."""
    engine.track_many([
        e for n in range(carts) for e in (
            {"type": "cart_updated", "cart_id": f"c{n}", "visitor_id": f"v{n}",
             "items": [{"sku": "K", "name": "Kite", "price": "19.99", "quantity": 1}],
             "currency": "EUR"},
            {"type": "contact_captured", "cart_id": f"c{n}", "email": f"s{n}@example.com"})])
    engine.flush()
    clock.set(T0 + timedelta(minutes=59))
    engine.run_due()
    clock.set(T0 + timedelta(hours=1))  # abandonment (+1 h default) and first reminder due
    t = time.perf_counter()
    ran = engine.run_due()
    return time.perf_counter() - t, ran


def one_run(args, work: str, i: int) -> float:
    clock = cr.ManualClock(T0)
    if args.store == "sqlite":
        url = f"sqlite:///{os.path.join(work, f'steps-{i}.db')}"
    else:
        url = f"{args.pg}{'&' if '?' in args.pg else '?'}schema=bench_steps_{os.getpid()}_{i}"
    channel = cr.CallbackChannel(lambda m: None) if args.channel == "noop" else \
        cr.OutboxChannel(os.path.join(work, f"outbox-{i}"))
    engine = cr.Engine(store=url, clock=clock, channels={"email": channel},
                       settings={"shop_name": "Bench", "base_url": "https://shop.example/cr/"})
    elapsed, ran = fire_first_reminders(engine, clock, args.carts)
    sent = engine.status()["messages_sent"]
    engine.close()
    if args.store != "sqlite":
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
        from raw_postgres import RawPostgres
        raw = RawPostgres(args.pg)
        raw.execute(f"DROP SCHEMA IF EXISTS bench_steps_{os.getpid()}_{i} CASCADE")
        raw.close()
    assert sent == args.carts, (sent, ran)
    return args.carts / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--carts", type=int, default=5000)
    ap.add_argument("--channel", choices=("noop", "outbox"), default="noop")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg", default=os.environ.get("CARTRECOVERY_TEST_PG",
                                                   "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cr-bench-steps-", dir=args.dir)
    rates = [one_run(args, work, i) for i in range(args.repeat)]
    print(f"{args.store}, {args.channel} channel, {args.carts} carts (abandon + reminder 1 in "
          f"one run_due): median {statistics.median(rates):,.0f} carts/s "
          f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
