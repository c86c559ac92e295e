"""Flows that branch on the checkout stage the shopper reached (R1.3) and on cart value, and
templates that know the stage: "you left at payment" differs from "you left at the cart".
Replayed through the public API with the example flow examples/flows/by-stage.json."""
from __future__ import annotations

import pathlib

import pytest

import cartrecovery as cr
from conftest import DAY, HOUR, SETTINGS, T0, add_cart, run_at, sent

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "flows"
BOARD = {"sku": "BOARD-2", "name": "Twin-Tip Board", "price": "249.00", "quantity": 1}


def _engine(make_engine):
    return make_engine(flows=[cr.Flow.from_file(EXAMPLES / "by-stage.json")],
                       settings={**SETTINGS, "templates": str(EXAMPLES / "templates")})


def _left_at(engine, cart_id, stage, items=None, known=False):
    """A cart left at `stage`. A known customer (logged in: contact by visitor) can leave a
    cart at the cart stage; anyone else reaches "contact" by typing an e-mail."""
    visitor = f"v-{cart_id}"
    if known:
        engine.track("contact_captured", visitor_id=visitor, email=f"{cart_id}@example.com")
        engine.track("cart_updated", cart_id=cart_id, visitor_id=visitor, currency="EUR",
                     items=items or [{"sku": "K", "name": "Kite", "price": "19.99", "quantity": 1}],
                     restore_url=f"https://kite.example/cart/{cart_id}")
    else:
        add_cart(engine, cart_id, email=f"{cart_id}@example.com", visitor_id=visitor, items=items)
    if stage not in ("cart", "contact"):
        engine.track("checkout_stage", cart_id=cart_id, stage=stage)


def test_the_path_follows_the_stage_reached_and_the_message_says_where(make_engine, clock):
    engine = _engine(make_engine)
    _left_at(engine, "pay", "payment")
    _left_at(engine, "ship", "shipping_address")
    _left_at(engine, "small", "cart", known=True)
    _left_at(engine, "big", "cart", items=[BOARD], known=True)
    for cart_id in ("pay", "ship", "small", "big"):
        assert engine.cart(cart_id)["stage"] == {"pay": "payment", "ship": "shipping_address"}.get(
            cart_id, "cart")
    run_at(engine, clock, T0 + HOUR)          # abandoned: every cart chooses its path now
    run_at(engine, clock, T0 + 2 * HOUR)
    journeys = {c: engine.messages(c)[0]["path"] for c in ("pay", "ship", "small", "big")}
    assert journeys == {"pay": "left-at-payment", "ship": "left-in-checkout",
                        "small": "left-at-cart", "big": "big-cart"}
    first = {m["cart_id"]: m for m in sent(engine) if m["step"] == 1}
    assert first["pay"]["subject"] == "Trouble paying at Kite Shop? Your order is one step away"
    assert "You left us at payment" in first["pay"]["text"]
    assert "You left us at the delivery address" in first["ship"]["text"]
    assert first["ship"]["subject"] == "You were almost done at Kite Shop"
    assert first["small"]["subject"] == "Your cart at Kite Shop is saved"
    assert "You left us at payment" not in first["small"]["text"] + first["ship"]["text"]
    # Each path keeps its own timing (S1: step 1 counts from the last activity): big carts
    # at once when abandoned (+30 min has passed), the others at +1 h and +2 h.
    assert first["big"]["sent_at"] == T0 + HOUR
    assert first["pay"]["sent_at"] == T0 + HOUR
    assert first["small"]["sent_at"] == T0 + 2 * HOUR


@pytest.mark.parametrize("when, field", [
    ({"stage_at_least": "checkout"}, "paths[0].when.stage_at_least"),
    ({"stage_at_least": "payment", "stage_below": "contact"}, "paths[0].when.stage_below"),
    ({"min_value": "200", "value_below": "100"}, "paths[0].when.value_below"),
    ({"min_value": "-1"}, "paths[0].when.min_value"),
    ({"stage": "payment"}, "paths[0].when.stage"),
])
def test_a_bad_condition_names_its_field(when, field):
    with pytest.raises(cr.ConfigError) as e:
        cr.Flow.from_json({"name": "x", "paths": [{"name": "p", "when": when, "steps": [
            {"after": "1h", "channels": ["email"]}]}]})
    assert e.value.field == field


def test_cart_value_bounds_pick_the_path_in_the_carts_own_currency(make_engine, clock):
    flow = cr.Flow("by-value", paths=[
        cr.Path("small", when={"value_below": "100"}, steps=[cr.Step(after="1h", channels=["email"])]),
        cr.Path("large", when={"min_value": "100"}, steps=[cr.Step(after="1h", channels=["email"])])])
    engine = make_engine(flows=[flow])
    add_cart(engine, "eur99", items=[{"sku": "A", "price": "99.99", "quantity": 1}], email="a@example.com")
    add_cart(engine, "eur100", items=[{"sku": "A", "price": "100.00", "quantity": 1}], email="b@example.com")
    add_cart(engine, "jpy", items=[{"sku": "A", "price": "5000", "quantity": 1}], currency="JPY",
             email="c@example.com")
    run_at(engine, clock, T0 + 2 * HOUR)
    paths = {c: engine.messages(c)[0]["path"] for c in ("eur99", "eur100", "jpy")}
    assert paths == {"eur99": "small", "eur100": "large", "jpy": "large"}


def test_the_stage_conditions_survive_the_canonical_json():
    flow = cr.Flow.from_file(EXAMPLES / "by-stage.json")
    when = [p.get("when") or None for p in flow.to_dict()["paths"]]
    assert when == [{"stage_at_least": "payment"}, {"stage_at_least": "contact"},
                    {"stage_below": "contact", "min_value": "200"}, None]
    assert cr.Flow.from_json(flow.to_json()) == flow


def test_a_send_test_shows_the_stage_of_the_sample_cart(make_engine):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)},
                         settings={**SETTINGS, "templates": str(EXAMPLES / "templates")})
    engine.send_test("email", "owner@kite.example", template="left_at")
    assert got[0]["subject"] == "[TEST] Your cart at Kite Shop is saved"
