"""PostgreSQL sends a batch's row writes in pipeline mode (pg_db.h, PgStmt::Queue): the
"sending" marks of a plan, the journeys and jobs of a record go without waiting for each
answer, and a write the server refuses is known only at the next statement that waits.
Seen from outside nothing changes: the job whose write failed is undone alone, wherever it
sits in the batch (also the last one, whose failure shows only at the batch's end), its
reminder is not delivered when its mark failed, and the others go on.

The server refuses a row through a trigger of the test's own, as a constraint, a full disk
or a lock timeout would."""
from __future__ import annotations

from datetime import timedelta

import pytest

import cartrecovery as cr
from conftest import HOUR, KITE, ON_POSTGRES, T0, add_cart, run_at, store_execute

pytestmark = [
    pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's pipeline (CARTRECOVERY_TEST_STORE=postgresql)"),
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

CARTS = ["c0", "c1", "c2", "c3", "c4"]


def refuse(db_path, table: str, condition: str, who: str = "NEW.cart_id") -> None:
    """A trigger that fails every write to `table` of a row matching `condition` (on NEW),
    naming the row by `who`."""
    store_execute(db_path, f"""
        CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF {condition} THEN RAISE EXCEPTION 'refused by the test for %', {who}; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_{table} BEFORE INSERT OR UPDATE ON {table}
          FOR EACH ROW EXECUTE FUNCTION refuse_{table}();""")


def carts_due(make_engine, clock, got):
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    for c in CARTS:
        add_cart(engine, c, email=f"{c}@example.com")
    run_at(engine, clock, T0 + HOUR - timedelta(minutes=1))  # abandoned; nothing due yet
    engine.flush()
    return engine


@pytest.mark.parametrize("bad", ["c2", "c4"])  # c4: the batch's last job
def test_a_refused_sending_mark_undoes_its_job_alone_and_nothing_of_it_is_delivered(
        make_engine, clock, db_path, bad):
    got = []
    engine = carts_due(make_engine, clock, got)
    refuse(db_path, "messages", f"NEW.cart_id = '{bad}'")
    run_at(engine, clock, T0 + HOUR)
    assert f"refused by the test for {bad}" in engine.status()["last_error"]
    others = [c for c in CARTS if c != bad]
    assert sorted(m["to"] for m in got) == [f"{c}@example.com" for c in others]
    rows = {m["cart_id"]: m["status"] for m in engine.messages()}
    assert rows == {c: "sent" for c in others}  # nothing half-written for the bad one
    for c in others:
        assert engine.cart(c)["journey"]["next_step"] == 2
    assert engine.cart(bad)["journey"]["next_step"] == 1
    claimed = store_execute(db_path, "SELECT j.state FROM jobs j JOIN journeys r ON r.journey_id = j.subject"
                                     f" WHERE j.kind = 'step' AND r.cart_id = '{bad}'")
    assert claimed == [("claimed",)]  # tried again when its lease runs out


def bodies(db_path) -> dict:
    """The message_bodies rows by the message that names them, and those nobody names."""
    named = store_execute(db_path, "SELECT m.cart_id, count(*) FROM messages m"
                                   " JOIN message_bodies b ON b.body_id = m.body_id GROUP BY m.cart_id")
    orphans = store_execute(db_path, "SELECT count(*) FROM message_bodies b WHERE NOT EXISTS"
                                     " (SELECT 1 FROM messages m WHERE m.body_id = b.body_id)")
    return {**{c: int(n) for c, n in named}, "orphans": int(orphans[0][0])}


@pytest.mark.parametrize("bad", ["c2", "c4"])  # c4: the batch's last job
def test_a_refused_message_body_undoes_its_job_alone_and_leaves_no_body_or_message_behind(
        make_engine, clock, db_path, bad):
    # The "sending" mark and its body go in one statement without waiting for its answer:
    # the server refusing the body (the statement's second half) must undo the mark too.
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    for c in CARTS:
        kite = {**KITE, "name": f"Kite {'Refused' if c == bad else 'Pro'} 9m"}
        add_cart(engine, c, items=[kite], email=f"{c}@example.com")
    run_at(engine, clock, T0 + HOUR - timedelta(minutes=1))
    engine.flush()
    refuse(db_path, "message_bodies", "strpos(NEW.text, 'Kite Refused') > 0", who="NEW.body_id")
    run_at(engine, clock, T0 + HOUR)
    assert "refused by the test for" in engine.status()["last_error"]
    others = [c for c in CARTS if c != bad]
    assert sorted(m["to"] for m in got) == [f"{c}@example.com" for c in others]
    assert {m["cart_id"]: m["status"] for m in engine.messages()} == {c: "sent" for c in others}
    assert bodies(db_path) == {**{c: 1 for c in others}, "orphans": 0}
    assert engine.cart(bad)["journey"]["next_step"] == 1
    # Once the server takes it, the job's next claim writes the one message and its body.
    store_execute(db_path, "DROP TRIGGER refuse_message_bodies ON message_bodies")
    run_at(engine, clock, T0 + 2 * HOUR)
    assert sorted(m["to"] for m in got) == sorted(f"{c}@example.com" for c in CARTS)
    assert {m["cart_id"]: m["status"] for m in engine.messages()} == {c: "sent" for c in CARTS}
    assert bodies(db_path) == {**{c: 1 for c in CARTS}, "orphans": 0}
    sent_bad = [m for m in engine.messages() if m["cart_id"] == bad]
    assert "Kite Refused 9m" in sent_bad[0]["text"]


@pytest.mark.parametrize("bad", ["c2", "c4"])
def test_a_refused_record_undoes_its_job_alone_and_the_others_advance(make_engine, clock, db_path, bad):
    got = []
    engine = carts_due(make_engine, clock, got)
    # The record's journey write (the step advanced) is refused for one cart.
    refuse(db_path, "journeys", f"NEW.cart_id = '{bad}' AND NEW.next_step = 1")
    run_at(engine, clock, T0 + HOUR)
    assert f"refused by the test for {bad}" in engine.status()["last_error"]
    assert len(got) == len(CARTS)  # delivered before the record
    # The bad one's outcome went with its undone record (as one statement at a time did):
    # still "sending", so the next claim of its job sends it again.
    rows = {m["cart_id"]: m["status"] for m in engine.messages()}
    assert rows == {**{c: "sent" for c in CARTS}, bad: "sending"}
    for c in CARTS:
        assert engine.cart(c)["journey"]["next_step"] == (1 if c == bad else 2)
    jobs = dict(store_execute(db_path, "SELECT r.cart_id, j.state FROM jobs j JOIN journeys r"
                                       " ON r.journey_id = j.subject WHERE j.kind = 'step'"))
    assert jobs == {**{c: "pending" for c in CARTS}, bad: "claimed"}
