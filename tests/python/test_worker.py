"""The background worker: started explicitly, woken by the clock, stopped cleanly."""
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import cartrecovery as cr


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_no_thread_starts_until_start(tmp_path):
    before = threading.active_count()
    engine = cr.Engine(store=f"sqlite:///{tmp_path}/w.db")
    assert threading.active_count() == before  # nothing at construction (fork safety)
    assert not engine.running
    engine.close()


def test_worker_sends_when_the_manual_clock_reaches_the_due_time(tmp_path):
    clock = cr.ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    sent = []
    engine = cr.Engine(store=f"sqlite:///{tmp_path}/w.db", clock=clock,
                       channels={"email": cr.CallbackChannel(sent.append)})
    with engine:
        assert engine.running
        engine.track("cart_updated", cart_id="c1", currency="EUR",
                     items=[{"sku": "K", "name": "Kite", "price": Decimal("10"), "quantity": 1}])
        engine.track("contact_captured", cart_id="c1", email="a@example.com")
        engine.flush()
        clock.advance(timedelta(minutes=59))
        time.sleep(0.05)
        assert sent == []  # not due yet: the worker slept, it did not send early
        clock.advance(timedelta(minutes=1))  # abandonment and reminder 1 both due now
        assert _wait_for(lambda: len(sent) == 1)
        assert sent[0]["to"] == "a@example.com"
        status = engine.status()
        assert status["worker_running_here"] and status["healthy"]
        engine.stop()
        assert not engine.running
