"""What one exit-intent popup decision costs with 1k, 20k and 100k incentive decisions in
the budget's window (S8): the popup endpoint waits for the budget's count.

    PYTHONPATH=plugin-adapters .venv/bin/python tests/bench/bench_incentive.py \
        [--sizes 1000,20000,100000] [--decisions 50] [--store sqlite|postgresql] [--pg URL]

Before/after: run it once with this checkout's extension and once with another checkout's
(PYTHONPATH=/work/main/plugin-adapters ...). Run by hand (never collected by pytest).
The window's decisions are written straight into a fresh store (one per cart, spread over
the last 29 days, one in five given a coupon), and, where the store keeps the budget's own
counts (incentive_abandonments, incentive_days), those too, as the store would have kept
them. The timed part is engine.exit_intent() for a shopper at checkout; the cart and
contact are tracked and flushed before the clock starts. Median and p90 per size.
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

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from raw_postgres import RawPostgres  # noqa: E402

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DAY_MS = 86_400_000
SETTINGS = {
    "shop_name": "Bench", "base_url": "https://shop.example/cr/",
    "coupon_pools": [{"name": "popup", "kind": "generated", "percent": 10, "prefix": "POP",
                      "valid_for": "7d"}],
    "incentive": {"share": 0.2},
    "exit_intent": {"pool": "popup", "coupon_min_stage": "cart"},
}


def seed(execute, n: int, now_ms: int) -> None:
    """n decisions, one per cart, spread over the last 29 days; one in five given a coupon.
    `execute` runs SQL on the store's own connection (sqlite3 or libpq)."""
    window = 29 * DAY_MS
    execute(
        "INSERT INTO offers(visitor_id, cart_id, contact_key, show, kind, variant, reason,"
        " incentive_rule, coupon_code, decided_ms, source)"
        f" WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < {n - 1})"
        " SELECT 'bv' || i, 'bc' || i, 'e:b' || i || '@example.com',"
        " CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END, 'coupon', '', '',"
        " CASE WHEN i % 5 = 0 THEN 'within_share' ELSE 'not_drawn' END, '',"
        f" {now_ms - window} + CAST(i AS BIGINT) * {window} / {n}, 'popup' FROM g")
    if has_budget_tables(execute):
        # As the store keeps them: each cart's latest decision is its only one.
        execute("INSERT INTO incentive_abandonments(abandonment, last_ms, valuable_ms)"
                " SELECT cart_id, decided_ms, NULL FROM offers WHERE cart_id LIKE 'bc%'")
        execute("INSERT INTO incentive_days(day_ms, abandoners, valuable, incentives, valuable_incentives)"
                " SELECT decided_ms / 86400000 * 86400000, count(*), 0, sum(show), 0 FROM offers"
                " WHERE cart_id LIKE 'bc%' GROUP BY 1")


def has_budget_tables(execute) -> bool:
    try:
        execute("SELECT count(*) FROM incentive_days")
        return True
    except Exception:  # noqa: BLE001 (sqlite3 and libpq raise their own)
        return False


def measure(args, work: str, n: int) -> list[float]:
    clock = cr.ManualClock(T0)
    schema = f"bench_incentive_{os.getpid()}_{n}"
    if args.store == "sqlite":
        path = os.path.join(work, f"incentive-{n}.db")
        url = f"sqlite:///{path}"
    else:
        url = f"{args.pg}{'&' if '?' in args.pg else '?'}schema={schema}"
    cr.Engine(store=url, clock=clock, settings=SETTINGS).close()  # the schema
    if args.store == "sqlite":
        db = sqlite3.connect(path, isolation_level=None)
        seed(lambda sql: db.execute(sql).fetchall(), n, int(T0.timestamp() * 1000))
        db.close()
    else:
        raw = RawPostgres(args.pg)
        raw.execute(f"SET search_path TO {schema}")
        seed(raw.execute, n, int(T0.timestamp() * 1000))
        raw.execute("ANALYZE")
    engine = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    took = []
    for k in range(args.decisions):
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
    if args.store != "sqlite":
        raw.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        raw.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,20000,100000")
    ap.add_argument("--decisions", type=int, default=50)
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg", default=os.environ.get("CARTRECOVERY_TEST_PG",
                                                   "postgresql://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    print(f"_core: {cr._core.__file__} (built {time.ctime(os.path.getmtime(cr._core.__file__))})")
    print(f"store: {args.store}")
    print(f"{'in window':>10} {'median ms':>10} {'p90 ms':>8}")
    with tempfile.TemporaryDirectory() as work:
        for n in (int(s) for s in args.sizes.split(",")):
            took = sorted(measure(args, work, n))
            p90 = took[int(0.9 * (len(took) - 1))]
            print(f"{n:>10,} {statistics.median(took):>10.3f} {p90:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
