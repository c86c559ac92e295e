"""Leases follow the work (issue 9, item 5): a worker renews the claims of the batch it is
working on, so a live worker keeps its reminders however slow a channel is, while a dead
worker's reminders move to another worker within a minute with the default settings.

Real processes and real short waits; nothing asserts on wall time, only on what was sent.
"""
from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

import cartrecovery as cr
from conftest import HOUR, SETTINGS, T0, add_cart, run_at, store_url
from workers import TIMEOUT, kill_while_sending


pytestmark = pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")


# ---- two live workers, a lease shorter than one send ------------------------------------------

SEND_SECONDS = 1.0  # each send takes longer than the whole lease
LEASE_SECONDS = 0.4
CONNECTIONS = 4
# How each worker sends: carts, and the SMTP connections (None: a callback, one at a time).
SENDERS = {"callback": (3, None), "smtp": (2 * CONNECTIONS, CONNECTIONS)}


def _channel(log_path: str, smtp_port, connections, worker: str, on_send=None):
    """A callback that logs and takes SEND_SECONDS per message, or SMTP to the sink (which
    holds each message that long) from the worker's own address."""
    if connections:
        return cr.SmtpChannel("127.0.0.1", smtp_port, starttls=False, timeout=5,
                              sender=f"Kite Shop <{worker}@kite.example>", connections=connections)

    def record(message):
        with open(log_path, "a") as f:
            f.write(message["message_id"] + "\n")
        if on_send:
            on_send()
        time.sleep(SEND_SECONDS)
    return cr.CallbackChannel(record)


def _slow_worker(url: str, log_path: str, smtp_port, how: str, go, result) -> None:
    """A second process polling the store the whole time the first is busy."""
    carts, connections = SENDERS[how]
    channel = _channel(log_path, smtp_port, connections, "b")
    engine = cr.Engine(store=url, channels={"email": channel},
                       settings={"shop_name": "Kite Shop", "lease_seconds": LEASE_SECONDS,
                                 "worker_id": "b"})
    go.wait(TIMEOUT)
    ran = 0
    deadline = time.monotonic() + carts * SEND_SECONDS / (connections or 1) + 2
    while time.monotonic() < deadline:
        ran += engine.run_due()
        time.sleep(0.02)
    engine.close()
    result.put(ran)


@pytest.mark.parametrize("how", sorted(SENDERS))
def test_two_live_workers_never_send_a_reminder_twice_with_a_lease_shorter_than_a_send(
        db_path, tmp_path, smtp_server, how):
    """With SMTP, worker a delivers on four connections at once, which take the store lock
    for every send's look and every record group: its lease keeper must still get the lock
    in time (lease_keeper.h), or b takes the batch over and sends it again."""
    carts, connections = SENDERS[how]
    url = store_url(db_path)
    # System clock: the carts were left three hours ago, so abandonment and reminder 1 are due.
    setup = cr.Engine(store=url, settings=SETTINGS)
    left = datetime.now(timezone.utc) - 3 * HOUR
    for i in range(carts):
        add_cart(setup, f"slow{i}", email=f"slow{i}@example.com", at=left)
    setup.close()

    sink, port = smtp_server(delay=SEND_SECONDS) if connections else (None, None)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    a_started = threading.Event()
    ctx = multiprocessing.get_context("spawn")
    go, result = ctx.Event(), ctx.Queue()
    other = ctx.Process(target=_slow_worker, args=(url, str(log_b), port, how, go, result))
    other.start()
    engine = cr.Engine(store=url,
                       channels={"email": _channel(str(log_a), port, connections, "a",
                                                   a_started.set)},
                       settings={**SETTINGS, "lease_seconds": LEASE_SECONDS, "worker_id": "a"})
    try:
        # Worker a claims the abandonments, then the reminders in one batch, and sends them
        # (1 s each, one or four at a time); worker b polls all along, a's leases long
        # expired but for the renewals.
        runner = threading.Thread(target=engine.run_due)
        runner.start()
        deadline = time.monotonic() + TIMEOUT
        while not (a_started.is_set() or (sink and sink.datas)):
            assert time.monotonic() < deadline, "worker a sent nothing"
            time.sleep(0.005)
        go.set()
        runner.join(TIMEOUT)
        assert not runner.is_alive()
        other.join(TIMEOUT)
        assert other.exitcode == 0
        ran_b = result.get(timeout=5)

        if sink:
            sends = [header.strip("<>").split("@", 1)[0] for _, header in sink.deliveries()]
            assert {sender for sender, _ in sink.deliveries()} == {"a@kite.example"}
            assert sink.max_active >= 2  # the batch did go out on several connections at once
        else:
            sends = [line for p in (log_a, log_b) if p.exists() for line in p.read_text().split()]
        twice = [m for m, n in Counter(sends).items() if n > 1]
        assert not twice, f"sent twice: {twice}"
        assert len(sends) == carts
        assert ran_b == 0  # b never got a claim of a's batch
        msgs = engine.messages()
        assert len(msgs) == carts and {m["status"] for m in msgs} == {"sent"}
    finally:
        if other.is_alive():
            other.kill()
        engine.close()


# ---- a dead worker's reminders move within a minute --------------------------------------------

def test_a_dead_workers_reminders_are_taken_over_within_60_seconds_by_default(db_path, clock):
    url = store_url(db_path)
    setup = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    for i in range(3):
        add_cart(setup, f"c{i}", email=f"shopper{i}@example.com")
    setup.close()

    kill_while_sending(url)  # default lease; killed between "sending" and the outcome

    got = []
    engine = cr.Engine(store=url, clock=clock, channels={"email": cr.CallbackChannel(got.append)},
                       settings=SETTINGS)  # default lease here too
    try:
        claimed_at = T0 + HOUR
        assert [m["status"] for m in engine.messages()] == ["sending"] * 3  # one batch, marked
        # Right after the death the claims are still the dead worker's.
        assert run_at(engine, clock, claimed_at + timedelta(seconds=1)) == 0
        assert got == []
        # Within a minute they are ours: the one being sent and the two still waiting.
        run_at(engine, clock, claimed_at + timedelta(seconds=60))
        assert sorted(m["to"] for m in got) == [f"shopper{i}@example.com" for i in range(3)]
        msgs = engine.messages()
        assert len(msgs) == 3 and {m["status"] for m in msgs} == {"sent"}
    finally:
        engine.close()


def test_a_manual_clock_jump_renews_the_batch_at_once(make_engine, clock, db_path):
    """With a ManualClock, time moves by jumps: a jump during a slow send renews the batch's
    lease right away, so another worker at the new time finds nothing to take."""
    release = threading.Event()
    in_send = threading.Event()

    def slow(message):
        in_send.set()
        release.wait(TIMEOUT)

    # A long lease: its periodic renewal (every 200 s) cannot be what moves it here.
    a = make_engine(channels={"email": cr.CallbackChannel(slow)},
                    settings={**SETTINGS, "lease_seconds": 600})
    add_cart(a, "c1")
    a.flush()
    clock.set(T0 + HOUR)
    runner = threading.Thread(target=a.run_due)
    runner.start()
    try:
        assert in_send.wait(TIMEOUT)
        other = []
        b = make_engine(channels={"email": cr.CallbackChannel(other.append)},
                        settings={**SETTINGS, "lease_seconds": 600})
        # The clock jumps 20 minutes, past the lease; the renewal follows it (lease -> jump
        # + 10 min). Once it is in the store, a second worker at the new time has nothing to
        # take.
        jump = T0 + HOUR + timedelta(minutes=20)
        clock.set(jump)
        jump_ms = int(jump.timestamp() * 1000)
        deadline = time.monotonic() + TIMEOUT
        while not (store_leases(db_path) and min(store_leases(db_path)) > jump_ms):
            assert time.monotonic() < deadline, "the jump did not renew the lease"
            time.sleep(0.01)
        assert b.run_due() == 0
        assert other == []
    finally:
        release.set()
        runner.join(TIMEOUT)
    assert [m["status"] for m in a.messages("c1")] == ["sent"]


def store_leases(db_path) -> list[int]:
    from conftest import store_execute
    return [int(r[0]) for r in store_execute(
        db_path, "SELECT lease_until_ms FROM jobs WHERE state = 'claimed'")]
