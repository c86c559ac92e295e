"""The cap on events per cart holds across processes (issue 10, item 3): four web processes
on one store (SQLite file or PostgreSQL schema) flood one cart at once, each staying under
the cap on its own, and the store keeps exactly the cap. Over it, an event nobody waits for
is dropped and counted; a caller who waits for the commit gets the ValidationError that
track() gives when this process saw the cap reached.

Every wait is bounded: a child that hangs is killed and the test fails."""
from __future__ import annotations

import multiprocessing
from datetime import datetime, timezone

import pytest

import cartrecovery as cr
from conftest import SETTINGS, T0, store_execute, store_url
from test_processes import join_all

CAP = 50
PROCESSES = 4
PER_PROCESS = 40  # under the cap in each process, 160 in all: only the store can stop them


def _flood(url: str, start: float, barrier, result) -> None:
    engine = cr.Engine(store=url, clock=cr.ManualClock(datetime.fromtimestamp(start, timezone.utc)),
                       settings={**SETTINGS, "max_events_per_cart": CAP})
    barrier.wait(20)
    for i in range(PER_PROCESS):
        engine.track("page_view", visitor_id="v-flood", cart_id="flood", page_type="product")
        if i < 5:
            engine.track("page_view", visitor_id="v-calm", cart_id="calm", page_type="home")
    engine.flush()  # the dropped ones are counted, not raised: a flood is not the caller's error
    result.put(engine.status()["queued"])
    engine.close()


def _stored(engine, cart_id: str) -> int:
    return sum(1 for e in engine.events() if e.get("cart_id") == cart_id)


def test_four_processes_flooding_one_cart_store_exactly_the_cap(db_path, clock):
    url = store_url(db_path)
    cr.Engine(store=url, clock=clock, settings=SETTINGS).close()  # schema made once, first
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    result = ctx.Queue()
    procs = [ctx.Process(target=_flood, args=(url, T0.timestamp(), barrier, result))
             for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    assert join_all(procs) == [0] * PROCESSES
    assert [result.get(timeout=5) for _ in procs] == [0] * PROCESSES

    engine = cr.Engine(store=url, clock=clock, settings={**SETTINGS, "max_events_per_cart": CAP})
    try:
        assert _stored(engine, "flood") == CAP
        assert _stored(engine, "calm") == 5 * PROCESSES  # other carts go on
        assert engine.status()["events_refused"] == PROCESSES * PER_PROCESS - CAP
        # This process has seen none of them, yet the store refuses its next one, and a
        # caller who waits hears why.
        with pytest.raises(cr.ValidationError, match="max_events_per_cart") as err:
            engine.track("page_view", visitor_id="v-flood", cart_id="flood", page_type="home",
                         durable=True)
        assert err.value.field == "cart_id" and "'flood'" in str(err.value)
        with pytest.raises(cr.ValidationError, match="max_events_per_cart"):
            engine.track_many([{"type": "page_view", "visitor_id": "v", "cart_id": "flood",
                                "page_type": "home"}], durable=True)
        assert _stored(engine, "flood") == CAP
        assert engine.status()["events_refused"] == PROCESSES * PER_PROCESS - CAP + 2
        # The window is a day of event time: the next day the cart is welcome again.
        clock.advance(86400)
        engine.track("page_view", visitor_id="v-flood", cart_id="flood", page_type="cart", durable=True)
        assert _stored(engine, "flood") == CAP + 1
    finally:
        engine.close()


def test_with_the_cap_off_the_store_counts_nothing(make_engine, db_path):
    engine = make_engine(settings={**SETTINGS, "max_events_per_cart": 0})
    engine.track_many([{"type": "page_view", "visitor_id": "v1", "cart_id": "c1", "page_type": "home"}] * 120)
    engine.flush()
    assert _stored(engine, "c1") == 120
    assert engine.status()["events_refused"] == 0
    assert int(store_execute(db_path, "SELECT count(*) FROM cart_event_counts")[0][0]) == 0
