"""Cart identity across restore (issue 13.2): a restored or merged cart that the shop gave a
new id carries on the original journey (cart_updated(continues=<original id>)), and an order
counts for the reminder that brought the shopper back even when checkout used another
e-mail (attribution follows the cart's journey, not only the contact)."""
from datetime import timedelta

import pytest

import cartrecovery as cr
from conftest import DAY, HOUR, KITE, T0, add_cart, run_at, sent


def _by_step(engine):
    return {r["step"]: r for r in engine.report(by=("step",))}


def test_a_restored_cart_with_a_new_id_continues_the_original_journey(make_engine, clock):
    engine = make_engine()
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    [first] = sent(engine, "c1")
    journey = engine.cart("c1")["journey"]
    # The restore link rebuilt the basket under a new id, on another device (new visitor).
    clock.advance(timedelta(minutes=10))
    engine.track("cart_updated", cart_id="c2", visitor_id="v-phone", items=[dict(KITE)], currency="EUR",
                 continues="c1")
    engine.flush()
    assert engine.cart("c2")["journey"]["flow"] == journey["flow"]
    assert engine.cart("c2")["journey"]["next_step"] == journey["next_step"]
    engine.track("order_placed", order_id="o1", cart_id="c2", value="59.97", currency="EUR")
    assert engine.cart("c2")["state"] == "recovered"
    run_at(engine, clock, T0 + 5 * DAY)
    assert [m["message_id"] for m in sent(engine)] == [first["message_id"]]  # nothing after the order
    row = _by_step(engine)[1]
    assert row["orders"] == 1 and str(row["revenue"]) == "59.97"


def test_without_continues_the_new_cart_is_a_stranger_and_the_original_goes_on(make_engine, clock):
    # What the engine did before: shown so the test above means something.
    engine = make_engine()
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    engine.track("cart_updated", cart_id="c2", visitor_id="v-phone", items=[dict(KITE)], currency="EUR")
    engine.track("order_placed", order_id="o1", cart_id="c2", value="59.97", currency="EUR")
    assert engine.cart("c2")["state"] == "ordered"
    assert _by_step(engine)[1]["orders"] == 0


def test_an_order_under_another_email_counts_for_the_carts_reminder(make_engine, clock):
    engine = make_engine()
    add_cart(engine, "c1", email="ann@example.com")
    run_at(engine, clock, T0 + HOUR)
    [reminder] = sent(engine, "c1")
    # Back through the reminder, the shopper checks out with the work address.
    clock.advance(timedelta(hours=1))
    engine.track("contact_captured", cart_id="c1", email="ann@work.example")
    engine.track("order_placed", order_id="o1", cart_id="c1", email="ann@work.example", value="59.97",
                 currency="EUR")
    row = _by_step(engine)[1]
    assert row["orders"] == 1 and str(row["revenue"]) == "59.97"
    assert engine.cart("c1")["state"] == "recovered"
    assert reminder["to"] == "ann@example.com"


def test_a_restored_then_reemailed_cart_still_books_the_order_to_the_reminder(make_engine, clock):
    engine = make_engine()
    add_cart(engine, "c1", email="ann@example.com")
    run_at(engine, clock, T0 + HOUR)
    engine.track("cart_updated", cart_id="c2", items=[dict(KITE)], currency="EUR", continues="c1")
    engine.track("contact_captured", cart_id="c2", email="ann@work.example")
    engine.track("order_placed", order_id="o1", cart_id="c2", email="ann@work.example", value="10",
                 currency="EUR")
    assert _by_step(engine)[1]["orders"] == 1
    run_at(engine, clock, T0 + 5 * DAY)
    assert len(sent(engine)) == 1


def test_continues_naming_itself_or_an_unknown_cart_is_a_plain_update(make_engine, clock):
    engine = make_engine()
    engine.track("cart_updated", cart_id="c9", items=[dict(KITE)], currency="EUR", continues="c9")
    engine.track("cart_updated", cart_id="c8", items=[dict(KITE)], currency="EUR", continues="nope")
    engine.flush()
    assert engine.cart("c9")["state"] == engine.cart("c8")["state"] == "active"
    with pytest.raises(cr.ValidationError) as e:
        engine.track("cart_updated", cart_id="c7", items=[dict(KITE)], currency="EUR", continues=["c1"])
    assert e.value.field == "continues"
