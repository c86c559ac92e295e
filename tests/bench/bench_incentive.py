"""What one exit-intent popup decision costs with 1k, 20k and 100k incentive decisions in
the budget's window (S8): the popup endpoint waits for the budget's count.

    PYTHONPATH=plugin-adapters .venv/bin/python tests/bench/bench_incentive.py \
        [--sizes 1000,20000,100000] [--decisions 50]

Before/after: run it once with this checkout's extension and once with another checkout's
(PYTHONPATH=/work/main/plugin-adapters ...). Run by hand (never collected by pytest).
The window's decisions are written straight into a fresh SQLite file (one per cart, spread
over the last 29 days, one in five given a coupon), and, where the store keeps the budget's
own counts (incentive_abandonments, incentive_days), those too, as the store would have
kept them. The timed part is engine.exit_intent() for a shopper at checkout; the cart and
contact are tracked and flushed before the clock starts. Median and p90 per size.
"""
from __future__ import annotations

import argparse
import collections
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone

import cartrecovery as cr

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DAY_MS = 86_400_000
SETTINGS = {
    "shop_name": "Bench", "base_url": "https://shop.example/cr/",
    "coupon_pools": [{"name": "popup", "kind": "generated", "percent": 10, "prefix": "POP",
                      "valid_for": "7d"}],
    "incentive": {"share": 0.2},
    "exit_intent": {"pool": "popup", "coupon_min_stage": "cart"},
}


def seed(path: str, n: int, now_ms: int) -> None:
    db = sqlite3.connect(path)
    rows = []
    for i in range(n):
        decided = now_ms - 29 * DAY_MS + (i * 29 * DAY_MS) // n
        show = 1 if i % 5 == 0 else 0
        rows.append((f"bv{i}", f"bc{i}", f"e:b{i}@example.com", show, "coupon", "", "",
                     "within_share" if show else "not_drawn", "", decided, "popup"))
    db.executemany("INSERT INTO offers(visitor_id, cart_id, contact_key, show, kind, variant, reason,"
                   " incentive_rule, coupon_code, decided_ms, source) VALUES(?,?,?,?,?,?,?,?,?,?,?)", rows)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "incentive_abandonments" in tables:
        # One decision per cart: each cart's latest decision is its only one.
        db.executemany("INSERT INTO incentive_abandonments(abandonment, last_ms, valuable_ms)"
                       " VALUES(?,?,NULL)", [(r[1], r[9]) for r in rows])
        days = collections.defaultdict(lambda: [0, 0])
        for r in rows:
            day = days[r[9] // DAY_MS * DAY_MS]
            day[0] += 1
            day[1] += r[3]
        db.executemany("INSERT INTO incentive_days(day_ms, abandoners, valuable, incentives,"
                       " valuable_incentives) VALUES(?,?,0,?,0)",
                       [(d, a, i) for d, (a, i) in days.items()])
    db.commit()
    db.close()


def measure(work: str, n: int, decisions: int) -> list[float]:
    path = os.path.join(work, f"incentive-{n}.db")
    url = f"sqlite:///{path}"
    clock = cr.ManualClock(T0)
    cr.Engine(store=url, clock=clock, settings=SETTINGS).close()  # the schema
    seed(path, n, int(T0.timestamp() * 1000))
    engine = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    took = []
    for k in range(decisions):
        clock.set(T0 + timedelta(seconds=k))
        engine.track("cart_updated", cart_id=f"p{k}", visitor_id=f"pv{k}", currency="EUR",
                     items=[{"sku": "K", "name": "Kite", "price": "19.99", "quantity": 1}])
        engine.track("contact_captured", cart_id=f"p{k}", visitor_id=f"pv{k}",
                     email=f"p{k}@example.com")
        engine.flush()
        t = time.perf_counter()
        d = engine.exit_intent(visitor_id=f"pv{k}", cart_id=f"p{k}")
        took.append((time.perf_counter() - t) * 1000)
        assert d.get("incentive_rule"), d  # the budget decided
    engine.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,20000,100000")
    ap.add_argument("--decisions", type=int, default=50)
    args = ap.parse_args()
    print(f"_core: {cr._core.__file__} (built {time.ctime(os.path.getmtime(cr._core.__file__))})")
    print(f"{'in window':>10} {'median ms':>10} {'p90 ms':>8}")
    with tempfile.TemporaryDirectory() as work:
        for n in (int(s) for s in args.sizes.split(",")):
            took = sorted(measure(work, n, args.decisions))
            p90 = took[int(0.9 * (len(took) - 1))]
            print(f"{n:>10,} {statistics.median(took):>10.3f} {p90:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
