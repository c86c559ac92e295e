"""Every message carries its real date, whoever built it: the engine's reminders (dated by its
clock), test messages, and messages a shop hands to a channel from Python."""
from __future__ import annotations

import email
import email.utils
from datetime import datetime, timedelta, timezone

import pytest

import cartrecovery as cr
from conftest import HOUR, T0, add_cart, run_at

UTC = timezone.utc


def _eml_date(directory, message_id: str) -> datetime:
    with open(directory / f"{message_id}.eml", "rb") as f:
        parsed = email.message_from_binary_file(f)
    return email.utils.parsedate_to_datetime(parsed["Date"])


def test_a_reminder_handed_to_a_callback_carries_the_engines_time(make_engine, clock):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    add_cart(engine)
    run_at(engine, clock, T0 + 2 * HOUR)
    assert len(got) == 1
    assert got[0]["date"] == T0 + 2 * HOUR  # the ManualClock's time, aware, UTC
    assert got[0]["date"].tzinfo is not None
    assert got[0]["date_ms"] == int((T0 + 2 * HOUR).timestamp() * 1000)


def test_a_reminder_in_the_outbox_is_dated_by_the_engine(make_engine, clock, tmp_path):
    outbox = tmp_path / "outbox"
    engine = make_engine(channels={"email": cr.OutboxChannel(outbox)})
    add_cart(engine)
    run_at(engine, clock, T0 + 2 * HOUR)
    (m,) = engine.messages()
    assert _eml_date(outbox, m["message_id"]) == T0 + 2 * HOUR


def test_the_engines_test_message_is_dated_by_the_engine(make_engine, clock):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    clock.set(T0 + timedelta(days=3))
    engine.send_test("email", "owner@kite.example")
    assert got[0]["date"] == T0 + timedelta(days=3)


def test_a_python_fed_message_to_the_outbox_is_dated_now_not_1970(tmp_path):
    outbox = tmp_path / "outbox"
    before = datetime.now(UTC).replace(microsecond=0)
    cr.OutboxChannel(outbox).send_test("owner@kite.example")
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert before <= _eml_date(outbox, "test") <= after


def test_a_python_fed_message_keeps_the_date_it_was_given(tmp_path):
    outbox = tmp_path / "outbox"
    when = datetime(2031, 7, 14, 8, 30, tzinfo=UTC)
    cr.OutboxChannel(outbox).send_test("owner@kite.example", date=when)
    assert _eml_date(outbox, "test") == when


def test_a_python_fed_message_to_a_callback_gets_a_date():
    got = []
    before = datetime.now(UTC) - timedelta(seconds=1)
    cr.CallbackChannel(got.append).send_test("owner@kite.example")
    assert before <= got[0]["date"] <= datetime.now(UTC) + timedelta(seconds=1)


def test_a_naive_date_is_refused_with_the_field_named(tmp_path):
    with pytest.raises(cr.ValidationError) as e:
        cr.OutboxChannel(tmp_path).send_test("owner@kite.example", date=datetime(2031, 1, 1))
    assert "date" in str(e.value)


@pytest.mark.parametrize("when", [
    datetime(2031, 7, 14, 8, 30, 5, 123000, tzinfo=UTC),   # milliseconds kept
    datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
    datetime(2099, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
])
def test_a_callback_gets_the_exact_instant_it_was_dated(when):
    got = []
    cr.CallbackChannel(got.append).send_test("owner@kite.example", date=when)
    assert got[0]["date"] == when
    assert got[0]["date"].tzinfo is not None and got[0]["date"].utcoffset() == timedelta(0)
    assert got[0]["date_ms"] == round(when.timestamp() * 1000)
    assert sorted(got[0]) == ["channel", "data", "date", "date_ms", "headers", "html", "message_id",
                              "subject", "text", "to", "to_name"]
