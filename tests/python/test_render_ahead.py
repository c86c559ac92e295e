"""Reminders rendered ahead of the plan (core/src/engine/render_ahead.h): helper threads
render a batch's likely messages while the worker decides and writes, and the plan takes a
helper's result only when it would have rendered exactly that. Seen from outside: whatever
the number of helpers, every shopper gets the same words, links and headers, and the store
keeps the same messages, in a batch that mixes channels, languages, consent, an experiment,
a coupon, a quiet-hours deferral and an order found at the shop mid-batch.
"""
from __future__ import annotations

import pytest

import cartrecovery as cr
from conftest import BOARD, HOUR, KITE, SETTINGS, T0, add_cart, run_at, store_url

CARTS = 60


def mixed_flow() -> cr.Flow:
    return cr.Flow("mixed", paths=[
        # Returning customers: an experiment whose arms differ in template and coupon.
        cr.Path("customer", when={"orders_count_at_least": 1}, steps=[
            cr.Step(after="1h", experiment="first", holdout=0, variants=[
                cr.Variant("plain", weight=1),
                cr.Variant("coupon", weight=1, coupon="ALL5", template="customer_1")]),
            cr.Step(after="1d")]),
        # Big carts: a coupon on the first reminder.
        cr.Path("big", when={"min_value": "100"}, steps=[
            cr.Step(after="1h", coupon="ALL5"), cr.Step(after="1d")]),
        # Everyone else: e-mail and SMS (SMS only where a phone is known; quiet hours).
        cr.Path("visitor", steps=[
            cr.Step(after="1h", channels=["email", "sms"]), cr.Step(after="1d")]),
    ])


def fire(tmp_path, name: str, render_threads: int) -> tuple[list[dict], list[dict]]:
    """One engine of its own; returns (what the channels were handed, the stored messages)."""
    handed: list[dict] = []
    settings = {**SETTINGS, "secret": "s3cret-for-links", "render_threads": render_threads,
                "coupon_pools": [{"name": "ALL5", "kind": "static", "percent": 5, "code": "ALL5"}],
                "policies": {"quiet_hours": {"sms": ["20:00", "09:00"]}}}
    clock = cr.ManualClock(T0)
    engine = cr.Engine(store=store_url(tmp_path / f"{name}.db"), flows=[mixed_flow()], clock=clock,
                       channels={"email": cr.CallbackChannel(handed.append),
                                 "sms": cr.CallbackChannel(handed.append)},
                       settings=settings)
    try:
        for i in range(CARTS):
            contact, items = {}, [KITE]
            if i % 7 == 0:
                contact["orders_count"] = 2
            elif i % 11 == 0:
                items = [KITE, BOARD]
            contact["consent"] = {"sms": True, "personalization": i % 3 == 0}
            if i % 3 == 0:
                contact["first_name"] = f"Zoë{i}"
            if i % 5 == 0:
                contact["timezone"] = "America/New_York"  # 05:00 there: SMS waits (quiet hours)
            if i % 4 == 1:
                contact["language"] = "de-DE,de;q=0.9"
            elif i % 4 == 2:
                contact["language"] = "pl"
            add_cart(engine, f"c{i}", items=items, email=f"s{i}@example.com",
                     phone=f"+4930123{i:04d}" if i % 2 else None, **contact)
        # The shop knows of an order for c5 that never reached the engine: its journey ends
        # in the plan, and the plans after it re-read its cart.
        engine.set_order_check(lambda cart_id, email: cart_id == "c5")
        run_at(engine, clock, T0 + HOUR)
        stored = [{k: m[k] for k in ("message_id", "cart_id", "step", "channel", "status", "reason",
                                     "to", "subject", "text", "due_at", "sent_at")}
                  for m in engine.messages()]
    finally:
        engine.close()
    return sorted(handed, key=lambda m: m["message_id"]), sorted(stored, key=lambda m: m["message_id"])


def test_every_shopper_gets_the_same_message_whatever_the_helpers(tmp_path):
    alone_handed, alone_stored = fire(tmp_path, "alone", 0)
    helped_handed, helped_stored = fire(tmp_path, "helped", 2)
    # The batch is what the test means: most went, by both channels, some with a coupon, one
    # ended by the order, some SMS deferred by the quiet hours.
    statuses = {(m["channel"], m["status"]) for m in alone_stored}
    assert {("email", "sent"), ("sms", "sent"), ("sms", "deferred")} <= statuses
    assert any("ALL5" in (m["text"] or "") for m in alone_stored)
    assert not [m for m in alone_stored if m["cart_id"] == "c5"]
    assert len(alone_handed) > CARTS
    assert helped_handed == alone_handed
    assert helped_stored == alone_stored


@pytest.mark.parametrize("value", [0, 1, 16])
def test_render_threads_is_a_setting(make_engine, value):
    make_engine(settings={**SETTINGS, "render_threads": value}).status()


@pytest.mark.parametrize("value, why", [(-2, "at least 0"), (17, "0..16"), ("two", "whole number"),
                                        (1.5, "whole number")])
def test_render_threads_out_of_range_is_a_config_error_naming_it(make_engine, value, why):
    with pytest.raises(cr.ConfigError, match=f"render_threads.*{why}"):
        make_engine(settings={**SETTINGS, "render_threads": value})
