"""Unsubscribes, opens and clicks count against the message whose link was used (R6.1), not
the newest one sent: per-step figures stay where the shopper acted."""
from __future__ import annotations

import re

import cartrecovery as cr
from conftest import DAY, HOUR, SETTINGS, T0, add_cart, run_at

BASE = SETTINGS["base_url"]


def _two_reminders(make_engine, clock):
    engine = make_engine(settings={**SETTINGS, "secret": "s" * 32})
    add_cart(engine, "c1")  # a visitor: reminder 1 at +1 h, reminder 2 "unopened" 10 h later
    run_at(engine, clock, T0 + 2 * HOUR)
    run_at(engine, clock, T0 + 12 * HOUR)
    first, second = [m for m in engine.messages("c1") if m["status"] == "sent"]
    assert (first["step"], second["step"]) == (1, 2)
    return engine, first, second


def _link(message, kind):
    found = re.findall(re.escape(BASE) + kind + r"/[A-Za-z0-9_.\-]+", message["html"] + message["text"])
    assert found, f"no {kind}/ link in the message"
    return found[0][len(BASE):]


def _by_step(engine, key):
    return {r["step"]: r[key] for r in engine.report(by=("step",))}


def test_an_unsubscribe_counts_against_the_message_whose_link_was_used(make_engine, clock):
    engine, first, second = _two_reminders(make_engine, clock)
    clock.advance(HOUR)
    answer = engine.handle_link(_link(first, "u"), method="POST")  # the older reminder's link
    assert answer["status"] == 200 and answer["kind"] == "unsubscribe"
    assert _by_step(engine, "unsubscribed") == {1: 1, 2: 0}


def test_an_unsubscribe_without_a_link_counts_against_the_newest_message(make_engine, clock):
    engine, first, second = _two_reminders(make_engine, clock)
    engine.track("unsubscribed", email="ann@example.com")
    assert _by_step(engine, "unsubscribed") == {1: 0, 2: 1}


def test_an_unsubscribe_event_may_name_the_message(make_engine, clock):
    engine, first, second = _two_reminders(make_engine, clock)
    engine.track("unsubscribed", email="ann@example.com", message_id=first["message_id"])
    assert _by_step(engine, "unsubscribed") == {1: 1, 2: 0}


def test_a_message_id_of_someone_else_attributes_nothing_to_it(make_engine, clock):
    engine, first, second = _two_reminders(make_engine, clock)
    add_cart(engine, "c2", email="bob@example.com")
    engine.track("unsubscribed", email="bob@example.com", message_id=first["message_id"])
    assert _by_step(engine, "unsubscribed") == {1: 0, 2: 0}


def test_an_open_and_a_click_count_against_their_own_message(make_engine, clock):
    engine, first, second = _two_reminders(make_engine, clock)
    clock.advance(HOUR)
    assert engine.handle_link(_link(first, "o"))["kind"] == "open"
    engine.flush()
    by_id = {m["message_id"]: m for m in engine.messages("c1")}
    assert by_id[first["message_id"]]["opened_at"] == clock.now()
    assert by_id[second["message_id"]]["opened_at"] is None
    clock.advance(HOUR)
    assert engine.handle_link(_link(first, "r"))["kind"] == "restore"  # the cart button: a click
    engine.flush()
    by_id = {m["message_id"]: m for m in engine.messages("c1")}
    assert by_id[first["message_id"]]["clicked_at"] == clock.now()
    assert by_id[second["message_id"]]["clicked_at"] is None
    assert _by_step(engine, "clicked") == {1: 1, 2: 0}
    assert _by_step(engine, "opened") == {1: 1, 2: 0}

