"""How the read side scales: reports, the funnel, an experiment report, exporting the event
log and replaying it against a candidate flow, on a store filled by the synthetic shop.

    PYTHONPATH=plugin-adapters .venv/bin/python tests/bench/bench_reports.py [--shoppers 20000]

Run by hand (never collected by pytest). Each read is timed five times after one untimed
warm-up; the table gives the median and the slowest. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import cartrecovery as cr
from cartrecovery.replay import export_events, replay
from cartrecovery.simulate import Simulation


def timed(fn, repeat: int = 5) -> tuple[float, float]:
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), max(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shoppers", type=int, default=20000)
    ap.add_argument("--dir", default=None, help="parent of the temporary directory")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cr-bench-reports-", dir=args.dir)
    store = f"sqlite:///{os.path.join(work, 'shop.db')}"
    print(f"filling {store} with {args.shoppers} shoppers ...", file=sys.stderr)
    t = time.perf_counter()
    sim = Simulation(store, shoppers=args.shoppers, seed=3)
    result = sim.run(days_after=4)
    sim.close()
    fill_s = time.perf_counter() - t

    engine = cr.Engine(store=store)
    status = engine.status()
    total = engine.report(by=())[0]
    reminded = engine.messages(limit=1)[0]["cart_id"]  # a cart that has messages
    rows: list[tuple[str, float, float]] = []
    for name, fn in [
        ("report by flow/step/channel", lambda: engine.report()),
        ("report by day", lambda: engine.report(by=("day",))),
        ("report by path/step, one flow", lambda: engine.report(by=("path", "step"), flow="cart-recovery")),
        ("funnel", lambda: engine.funnel()),
        ("lead temperature", lambda: engine.leads()),
        ("messages of one cart", lambda: engine.messages(cart_id=reminded)),
    ]:
        print(f"timing {name} ...", file=sys.stderr)
        rows.append((name, *timed(fn)))
    export_path = os.path.join(work, "events.jsonl")
    t = time.perf_counter()
    export_events(engine, export_path)
    export_s = time.perf_counter() - t
    engine.close()
    print("replaying ...", file=sys.stderr)
    t = time.perf_counter()
    replayed = replay(export_path, [cr.default_flow()])
    replay_s = time.perf_counter() - t

    out = {
        "shoppers": args.shoppers, "events": status["events"], "carts": status["carts"],
        "messages_sent": total["sent"], "orders_attributed": total["orders"],
        "fill_seconds": round(fill_s, 1),
        "reads_ms": {name: {"median": round(med * 1000, 2), "max": round(mx * 1000, 2)}
                     for name, med, mx in rows},
        "export_events_per_s": round(status["events"] / export_s),
        "replay_events_per_s": round(replayed.events / replay_s),
        "replay_seconds": round(replay_s, 1),
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"store: {out['events']} events, {out['carts']} carts, {out['messages_sent']} reminders sent, "
          f"{out['orders_attributed']} orders attributed (filled in {out['fill_seconds']} s)")
    print(f"{'read':34} {'median ms':>10} {'max ms':>10}")
    for name, med, mx in rows:
        print(f"{name:34} {med * 1000:10.2f} {mx * 1000:10.2f}")
    print(f"export-events: {out['export_events_per_s']} events/s; "
          f"replay against the default flow: {out['replay_events_per_s']} events/s ({out['replay_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
