#!/usr/bin/env python3
"""What the store's cap on events per cart costs the writer: 60,000 page views over 6,000
carts by track_many in batches of 1,000 (each batch touches ~1,000 carts, the worst case: one
counter row per event), with the cap off (max_events_per_cart=0) and on (1000), twice each.
Run by hand, never by the test suite:

    PYTHONPATH=plugin-adapters python tests/bench/bench_cart_cap.py sqlite [postgresql]

PostgreSQL: CARTRECOVERY_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test), one
fresh schema per run, dropped after it.
"""
from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from datetime import datetime, timezone

import cartrecovery as cr

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
PG = os.environ.get("CARTRECOVERY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def events_per_second(store: str, cap: int) -> float:
    engine = cr.Engine(store=store, clock=cr.ManualClock(T0),
                       settings={"shop_name": "Bench", "max_events_per_cart": cap})
    events = [{"type": "page_view", "visitor_id": f"v{i % 6000}", "cart_id": f"c{i % 6000}",
               "page_type": "product"} for i in range(60000)]
    start = time.perf_counter()
    for k in range(0, len(events), 1000):
        engine.track_many(events[k:k + 1000])
    engine.flush()
    elapsed = time.perf_counter() - start
    engine.close()
    if "schema=" in store:
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
        from conftest import RawPostgres  # libpq through ctypes, as the tests reach PostgreSQL
        raw = RawPostgres(PG)
        raw.execute(f"DROP SCHEMA {store.rsplit('schema=', 1)[1]} CASCADE")
        raw.close()
    return len(events) / elapsed


def main() -> None:
    for kind in sys.argv[1:] or ["sqlite"]:
        for cap in (0, 1000, 0, 1000):
            if kind == "sqlite":
                store = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
            else:
                store = f"{PG}{'&' if '?' in PG else '?'}schema=bench_{secrets.token_hex(4)}"
            print(f"{kind:10} max_events_per_cart={cap:<5} {events_per_second(store, cap):>9,.0f} events/s",
                  flush=True)


if __name__ == "__main__":
    main()
