"""Fork safety and several processes on one SQLite store.

Every wait is bounded: a child that hangs is killed and the test fails."""
from __future__ import annotations

import multiprocessing
import os
import time
from datetime import datetime, timedelta, timezone

import pytest

import cartrecovery as cr
from conftest import HOUR, KITE, SETTINGS, T0, add_cart, run_at, sent, store_url
from workers import TIMEOUT, join_all, kill_while_sending, wait_child


# Python 3.12+ warns when forking a process that has threads (the engine's writer); the
# core is built for that case, which is what these tests check.
pytestmark = pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")


# ---- (1) fork -------------------------------------------------------------------------------

def test_engine_keeps_working_in_a_forked_child_and_in_the_parent(engine, clock):
    # The parent uses the engine first: its writer thread and connection exist now.
    add_cart(engine, "parent-1")
    assert engine.cart("parent-1")["state"] == "active"
    run_at(engine, clock, T0 + HOUR)
    assert len(engine.messages("parent-1")) == 1

    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only, never return into pytest
        code = 1
        try:
            engine.track("cart_updated", cart_id="child-1", items=[KITE], currency="EUR")
            engine.track("contact_captured", cart_id="child-1", email="kid@example.com")
            cart = engine.cart("child-1")
            ok = (cart is not None and cart["contact"] == "e:kid@example.com"
                  and len(engine.messages("parent-1")) == 1
                  and engine.status()["worker_last_run"] == T0 + HOUR)
            clock.set(T0 + 2 * HOUR)
            ran = engine.run_due()
            ok = ok and ran >= 1 and [m["status"] for m in engine.messages("child-1")] == ["sent"]
            engine.close()
            code = 0 if ok else 2
        except BaseException:  # noqa: BLE001  (anything: the exit code says it)
            import traceback
            traceback.print_exc()
            code = 3
        finally:
            os._exit(code)

    assert wait_child(pid) == 0
    # The parent sees what the child committed, and still works.
    cart = engine.cart("child-1")
    assert cart is not None and cart["state"] == "abandoned"
    assert [m["status"] for m in engine.messages("child-1")] == ["sent"]
    engine.track("cart_updated", cart_id="parent-2", items=[KITE], currency="EUR", durable=True)
    assert engine.cart("parent-2")["state"] == "active"
    assert engine.status()["events"] == 5


def test_fork_before_first_use(make_engine, clock):
    engine = make_engine()  # never used before the fork: no thread has started
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            engine.track("page_view", visitor_id="v1", page_type="home", durable=True)
            code = 0 if engine.status()["events"] == 1 else 2
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    assert wait_child(pid) == 0
    engine.track("page_view", visitor_id="v2", page_type="home", durable=True)
    assert engine.status()["events"] == 2


# ---- (2) four writers -------------------------------------------------------------------------

def _track_500(url: str, worker: int) -> None:
    clock = cr.ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    engine = cr.Engine(store=url, clock=clock, settings={"shop_name": "Kite Shop"})
    item = {"sku": "KITE-1", "name": "Kite", "price": "19.99", "quantity": 1}
    for i in range(250):  # one at a time...
        engine.track("cart_updated", cart_id=f"w{worker}-c{i}", items=[item], currency="EUR")
    # ...and in batches
    for start in range(0, 250, 50):
        engine.track_many([{"type": "page_view", "visitor_id": f"w{worker}-v{i}", "page_type": "product"}
                           for i in range(start, start + 50)])
    engine.close()  # flushes


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_four_processes_track_2000_events(db_path, clock, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    url = store_url(db_path)
    cr.Engine(store=url, clock=clock).close()  # create the schema once, up front
    ctx = multiprocessing.get_context(method)
    procs = [ctx.Process(target=_track_500, args=(url, w)) for w in range(4)]
    for p in procs:
        p.start()
    assert join_all(procs) == [0, 0, 0, 0]
    engine = cr.Engine(store=url, clock=clock)
    try:
        s = engine.status()
        assert s["events"] == 2000 and s["carts"] == 1000
        assert s["last_error"] is None
        assert str(engine.cart("w3-c249")["value"]) == "19.99"
    finally:
        engine.close()


# ---- (3) two workers, one due time -----------------------------------------------------------

N_CARTS = 600  # more than one claim batch (500), so both workers get a share


def _worker(url: str, outbox: str, barrier, times: list[float], result) -> None:
    clock = cr.ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    engine = cr.Engine(store=url, clock=clock, channels={"email": cr.OutboxChannel(outbox)},
                       settings={"shop_name": "Kite Shop", "worker_id": os.path.basename(outbox)})
    ran = 0
    for t in times:
        when = datetime.fromtimestamp(t, tz=timezone.utc)
        clock.set(when)
        barrier.wait(TIMEOUT)
        ran += engine.run_due()
    engine.close()
    result.put(ran)


def test_two_workers_at_the_same_due_time_send_each_message_once(db_path, tmp_path, clock):
    url = store_url(db_path)
    setup = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    for i in range(N_CARTS):
        add_cart(setup, f"c{i}", email=f"shopper{i}@example.com")
    setup.close()

    first = T0 + HOUR
    times = [first.timestamp(), (first + 10 * HOUR).timestamp()]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    result = ctx.Queue()
    outboxes = [tmp_path / "outbox-a", tmp_path / "outbox-b"]
    procs = [ctx.Process(target=_worker, args=(url, str(o), barrier, times, result)) for o in outboxes]
    for p in procs:
        p.start()
    assert join_all(procs) == [0, 0]
    ran = [result.get(timeout=5) for _ in procs]
    print("jobs run per process:", ran)

    delivered = [f.stem for o in outboxes if o.exists() for f in o.glob("*.eml")]
    assert len(delivered) == 2 * N_CARTS
    assert len(set(delivered)) == len(delivered), "a message was delivered twice"
    # abandon + step 1 + step 2 per cart, each run by exactly one process.
    assert sum(ran) == 3 * N_CARTS

    engine = cr.Engine(store=url, clock=clock)
    try:
        msgs = engine.messages(limit=None)
        assert len(msgs) == 2 * N_CARTS
        assert {m["status"] for m in msgs} == {"sent"}
        assert sorted(m["message_id"] for m in msgs) == sorted(delivered)
        by_cart = {}
        for m in msgs:
            by_cart.setdefault(m["cart_id"], []).append((m["step"], m["sent_at"]))
        assert all(sorted(v) == [(1, first), (2, first + 10 * HOUR)] for v in by_cart.values())
        assert engine.status()["messages_sent"] == 2 * N_CARTS
    finally:
        engine.close()


# ---- (4) a worker killed while sending -------------------------------------------------------

def test_a_killed_workers_job_is_taken_over_after_its_lease(db_path, clock):
    url = store_url(db_path)
    setup = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    add_cart(setup)
    setup.close()

    kill_while_sending(url, settings={"lease_seconds": 60})  # killed in the channel

    engine = cr.Engine(store=url, clock=clock, settings={**SETTINGS, "lease_seconds": 60})
    try:
        first = T0 + HOUR
        (m,) = engine.messages("c1")
        assert m["status"] == "sending"
        # The lease (60 s from the claim at `first`) still holds: nobody else may send it.
        assert run_at(engine, clock, first + timedelta(seconds=59)) == 0
        assert engine.messages("c1")[0]["status"] == "sending"
        # Expired: this worker takes the job over and delivers the message (once more).
        assert run_at(engine, clock, first + timedelta(seconds=60)) == 1
        (m,) = engine.messages("c1")
        assert m["status"] == "sent" and m["sent_at"] == first + timedelta(seconds=60)
        j = engine.cart("c1")["journey"]
        assert j["next_step"] == 2 and j["next_due"] == first + timedelta(seconds=60) + 10 * HOUR
    finally:
        engine.close()


# ---- (5) the background worker thread ----------------------------------------------------------

def wait_for(predicate, timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_background_worker_sends_when_the_clock_reaches_the_due_time(make_engine, clock):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    add_cart(engine)
    with engine:
        assert engine.running and engine.status()["worker_running_here"]
        clock.set(T0 + HOUR - timedelta(minutes=1))
        engine.flush()
        clock.set(T0 + HOUR)  # advancing a ManualClock wakes the worker
        assert wait_for(lambda: len(got) == 1), "the worker did not send reminder 1"
        assert wait_for(lambda: sent(engine, "c1") != [])
        assert sent(engine, "c1")[0]["sent_at"] == T0 + HOUR
        clock.set(T0 + 11 * HOUR)
        assert wait_for(lambda: len(got) == 2)
        assert wait_for(lambda: len(sent(engine, "c1")) == 2)
        assert [m["step"] for m in sent(engine, "c1")] == [1, 2]
        engine.stop()
        assert engine.running is False
    assert got[0]["to"] == "ann@example.com"


def test_fork_while_the_parent_runs_a_worker(make_engine, clock):
    engine = make_engine()
    add_cart(engine)
    engine.start()
    clock.set(T0 + HOUR)
    # The batch recorded (the journey moved on), not only its message stored "sent": a record
    # group does that mid-batch, and forking then lands inside the worker's batch.
    assert wait_for(lambda: len(sent(engine, "c1")) == 1
                    and engine.cart("c1")["journey"]["next_step"] == 2)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ok = engine.running is False  # the parent's worker thread is not in the child
            add_cart(engine, "k1", email="kid@example.com")
            clock.set(T0 + 2 * HOUR + timedelta(minutes=1))
            engine.run_due()
            ok = ok and [m["status"] for m in engine.messages("k1")] == ["sent"]
            engine.close()
            code = 0 if ok else 2
        except BaseException:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            code = 3
        finally:
            os._exit(code)
    assert wait_child(pid) == 0
    assert engine.running is True
    engine.stop()
    assert [m["status"] for m in engine.messages("k1")] == ["sent"]
    assert len(sent(engine, "c1")) == 1
