"""The batched step pipeline (issue 9, item 1): a worker claims a batch of due reminders,
marks them all "sending" in one transaction, delivers (storing what the channels accept
"sent" in small groups meanwhile), and records every other outcome in one transaction, one
bad job undone alone. Seen from outside: one bad job does not undo the others, an order
committed while a batch is delivered stops its later reminders, what went is stored at most
one group behind, and a worker killed between the mark and the record loses nothing.
"""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest

import cartrecovery as cr
from conftest import DAY, HOUR, RECORD_GROUP, SETTINGS, T0, add_cart, run_at, store_execute, store_url
from workers import kill_while_sending


pytestmark = pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")


def test_a_job_that_fails_in_a_batch_leaves_the_others_sent_and_recorded(make_engine, clock, db_path):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    for i in range(5):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR - timedelta(minutes=1))  # nothing due yet
    engine.flush()
    # c2's cart row is corrupt behind the engine's back: its step throws while planned.
    store_execute(db_path, "UPDATE carts SET items = 'not json' WHERE cart_id = 'c2'")
    run_at(engine, clock, T0 + HOUR)
    assert engine.status()["last_error"] and "c2" not in [m["to"] for m in got]
    sent = sorted(m["to"] for m in got)
    assert sent == ["s0@example.com", "s1@example.com", "s3@example.com", "s4@example.com"]
    rows = {m["cart_id"]: m for m in engine.messages()}
    assert sorted(rows) == ["c0", "c1", "c3", "c4"]  # nothing half-written for c2
    assert {m["status"] for m in rows.values()} == {"sent"}
    for c in ("c0", "c1", "c3", "c4"):
        assert engine.cart(c)["journey"]["next_step"] == 2  # every journey advanced


def test_what_a_batch_delivers_is_recorded_in_groups_while_it_is_delivered(make_engine, clock, db_path):
    """A kill mid-delivery re-sends only what is not recorded yet: seen from another
    connection, the messages a channel accepted are stored "sent" at most one group behind,
    and the batch's final record does not count them again."""
    behind = []  # accepted before each send, and not yet "sent" in the store

    def send(message):
        stored = int(store_execute(db_path, "SELECT count(*) FROM messages WHERE status = 'sent'")[0][0])
        behind.append(len(behind) - stored)

    engine = make_engine(channels={"email": cr.CallbackChannel(send)})
    carts = 3 * RECORD_GROUP + 5  # one batch, several groups
    for i in range(carts):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)
    assert len(behind) == carts
    assert max(behind) < RECORD_GROUP, behind
    rows = store_execute(db_path, "SELECT status, attempts FROM messages")
    assert Counter((status, int(attempts)) for status, attempts in rows) == {("sent", 1): carts}
    for i in range(carts):
        assert engine.cart(f"c{i}")["journey"]["next_step"] == 2


def test_a_worker_that_lost_its_claims_while_delivering_records_no_group(make_engine, clock, db_path):
    """Fenced like every write of a batch: once another worker holds the claims (a newer
    attempt), the groups change nothing; the final record stores what went, as before,
    and leaves the journeys to the newer claim."""
    stored_sent = []

    def send(message):
        if not stored_sent:  # taken over while the first message goes
            store_execute(db_path, "UPDATE jobs SET attempt = attempt + 1 WHERE state = 'claimed'")
        stored_sent.append(
            int(store_execute(db_path, "SELECT count(*) FROM messages WHERE status = 'sent'")[0][0]))

    engine = make_engine(channels={"email": cr.CallbackChannel(send)})
    carts = 2 * RECORD_GROUP + 5
    for i in range(carts):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)
    assert len(stored_sent) == carts and set(stored_sent) == {0}
    assert [m["status"] for m in engine.messages()] == ["sent"] * carts
    assert {engine.cart(f"c{i}")["journey"]["next_step"] for i in range(carts)} == {1}


def test_a_step_that_fails_while_planned_leaves_the_others_sent_and_advanced(make_engine, clock, db_path):
    """The batch reads its carts in one statement; a cart that cannot be read fails its own
    step only (read again on its own, undone alone), not the whole batch."""
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    for i in range(5):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)  # every first reminder
    assert len(got) == 5
    engine.flush()
    store_execute(db_path, "UPDATE carts SET items = 'not json' WHERE cart_id = 'c2'")
    run_at(engine, clock, T0 + 3 * DAY)  # every second reminder is due
    assert engine.status()["last_error"]
    second = sorted(m["to"] for m in got[5:])
    assert second == ["s0@example.com", "s1@example.com", "s3@example.com", "s4@example.com"]
    for c in ("c0", "c1", "c3", "c4"):
        assert [m["status"] for m in engine.messages(c)][:2] == ["sent", "sent"]
        assert engine.cart(c)["journey"]["next_step"] >= 3
    assert [m["step"] for m in engine.messages("c2")] == [1]  # nothing half-written for c2


def test_a_failing_order_check_holds_only_its_own_cart(make_engine, clock):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    for i in range(3):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")

    def check(cart_id, email):
        if cart_id == "c1":
            raise RuntimeError("shop database down")
        return False

    engine.set_order_check(check)
    run_at(engine, clock, T0 + HOUR)
    assert sorted(m["to"] for m in got) == ["s0@example.com", "s2@example.com"]
    assert "shop database down" in engine.status()["last_error"]
    assert [m["cart_id"] for m in engine.messages()] == ["c0", "c2"] or \
        sorted(m["cart_id"] for m in engine.messages()) == ["c0", "c2"]


@pytest.mark.parametrize("orderer", ["same_engine", "another_connection"])
@pytest.mark.parametrize("nth", [1, RECORD_GROUP], ids=["first", "closing_a_record_group"])
def test_an_order_committed_while_a_batch_is_delivered_stops_its_later_reminders(
        make_engine, clock, orderer, nth):
    """S4 across the jobs of one batch. The batch looks at its messages' statuses once before
    delivering and again only when a commit may have changed them: one made by this engine's
    writer, or by another connection to the store (SQLite tells by data_version; PostgreSQL
    cannot, and looks again every 20 ms, hence the pause). The order goes while the first
    reminder is sent, or the one whose record group is then committed: that commit of the
    batch's own must not hide the order's."""
    got = []
    carts = nth + 4
    addresses = {f"s{i}@example.com" for i in range(carts)}
    target = []

    def deliver(message):
        got.append(message["to"])
        if len(got) == nth:  # this reminder of the batch is out; the later ones are not yet
            target.append(sorted(addresses - set(got))[0])
            ordering.track("order_placed", order_id="o-1", email=target[0])
            time.sleep(0.03)

    engine = make_engine(channels={"email": cr.CallbackChannel(deliver)})
    ordering = engine if orderer == "same_engine" else make_engine()
    for i in range(carts):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)
    assert len(got) == carts - 1 and target[0] not in got
    stopped = [m for m in engine.messages() if m["to"] == target[0]]
    assert [(m["status"], m["reason"]) for m in stopped] == [("suppressed", "ordered")]
    assert sorted(m["status"] for m in engine.messages()) == ["sent"] * (carts - 1) + ["suppressed"]


N_KILL = 8


def test_a_worker_killed_between_mark_and_record_loses_nothing(db_path, tmp_path, clock):
    url = store_url(db_path)
    setup = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    for i in range(N_KILL):
        add_cart(setup, f"c{i}", email=f"s{i}@example.com")
    setup.close()
    log = tmp_path / "delivered.log"

    # A few went out; the rest of the batch did not: killed after its mark, before its record.
    kill_while_sending(url, log=log, sends=3, why="the child never reached its third send")
    before_kill = log.read_text().split()
    assert len(before_kill) == 3

    got = []
    engine = cr.Engine(store=url, clock=clock, channels={"email": cr.CallbackChannel(got.append)},
                       settings=SETTINGS)
    try:
        # The whole batch was marked "sending" before the first send: nothing is "new".
        assert {m["status"] for m in engine.messages()} == {"sending"}
        assert len(engine.messages()) == N_KILL
        run_at(engine, clock, T0 + HOUR + timedelta(minutes=2))  # past the default lease
        after = [m["message_id"] for m in got]
        # Nothing lost: every reminder reached the channel; the ones sent again are only
        # those in the window between the channel's acceptance and the batch's record.
        delivered = Counter(before_kill + after)
        assert len(delivered) == N_KILL
        assert all(n <= 2 for n in delivered.values())
        assert {m for m, n in delivered.items() if n == 2} <= set(before_kill)
        msgs = engine.messages()
        assert len(msgs) == N_KILL and {m["status"] for m in msgs} == {"sent"}
    finally:
        engine.close()
