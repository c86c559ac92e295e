"""Reports beyond messages: the checkout funnel (R1.3), lead temperature (R1.4), and the
exit-intent experiment against its holdout (R6.3) — checked against outcomes built by hand."""
import pytest

import cartrecovery as cr
from conftest import HOUR, SETTINGS, T0, add_cart, run_at


def test_the_funnel_counts_where_carts_were_left_and_what_came_back(make_engine, clock):
    engine = make_engine()
    add_cart(engine, "a", email="a@example.com")                          # contact stage
    add_cart(engine, "b", email="b@example.com")
    engine.track("checkout_stage", cart_id="b", stage="payment")          # payment
    add_cart(engine, "c", email=None)                                     # cart stage only
    add_cart(engine, "d", email="d@example.com")
    engine.track("checkout_stage", cart_id="d", stage="payment")
    engine.track("order_placed", order_id="o-d", cart_id="d", value="59.97", currency="EUR")
    run_at(engine, clock, T0 + HOUR)                                       # a, b, c abandoned
    run_at(engine, clock, T0 + 2 * HOUR)
    engine.track("order_placed", order_id="o-b", cart_id="b", value="59.97", currency="EUR")
    rows = {r["stage"]: r for r in engine.funnel()}
    assert list(rows) == ["cart", "contact", "shipping_address", "shipping_method", "payment"]
    assert (rows["cart"]["carts"], rows["cart"]["abandoned"], rows["cart"]["recovered"]) == (1, 1, 0)
    assert (rows["contact"]["carts"], rows["contact"]["abandoned"]) == (1, 1)
    assert (rows["payment"]["carts"], rows["payment"]["abandoned"], rows["payment"]["recovered"]) == (2, 1, 1)
    assert rows["shipping_method"]["carts"] == 0


def test_lead_temperature_from_page_views_and_carts(make_engine):
    engine = make_engine()
    engine.track("page_view", visitor_id="cold", page_type="home")
    engine.track("page_view", visitor_id="warm", page_type="home")
    engine.track("page_view", visitor_id="warm", page_type="product", product_id="KITE-1")
    engine.track("page_view", visitor_id="hot", page_type="product", product_id="KITE-1")
    add_cart(engine, "h1", visitor_id="hot")
    assert engine.leads() == {"cold": 1, "warm": 1, "hot": 1}


def test_the_experiment_report_compares_variants_with_the_holdout(make_engine, clock):
    engine = make_engine(settings={
        "coupon_pools": [{"name": "p", "kind": "generated", "percent": 10}],
        "exit_intent": {"pool": "p", "incentive": {"share": 1.0},
                        "experiments": {"coupon": {"variants": {"A": 1}, "holdout": 1}}}})
    by_variant = {"A": [0, 0], "holdout": [0, 0]}
    for i in range(60):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com", visitor_id=f"v{i}")
        engine.track("checkout_stage", cart_id=f"c{i}", stage="payment")
        variant = engine.exit_intent(visitor_id=f"v{i}", cart_id=f"c{i}")["variant"]
        by_variant[variant][0] += 1
        if variant == "A" and i % 2 == 0 or variant == "holdout" and i % 5 == 0:  # known outcomes
            engine.track("order_placed", order_id=f"o{i}", cart_id=f"c{i}", value="1", currency="EUR")
            by_variant[variant][1] += 1
    report = {r["variant"]: r for r in engine.experiment_report("coupon")}
    for variant, (trials, conversions) in by_variant.items():
        assert (report[variant]["trials"], report[variant]["conversions"]) == (trials, conversions)
        assert report[variant]["ci"][0] <= report[variant]["rate"] <= report[variant]["ci"][1]
    diff = report["A"]["vs_holdout"]
    assert abs(diff["difference"] - (report["A"]["rate"] - report["holdout"]["rate"])) < 1e-12
    assert diff["ci"][0] < diff["difference"] < diff["ci"][1]
    assert report["holdout"]["vs_holdout"] is None


def test_unsubscribes_count_against_the_message_before_them_and_filters_narrow_the_report(make_engine, clock):
    engine = make_engine()
    for i in range(6):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com", orders_count=1 if i < 2 else None)
    run_at(engine, clock, T0 + HOUR)                    # step 1 to all six (2 customers, 4 visitors)
    engine.track("unsubscribed", email="s0@example.com")  # customer, after step 1
    engine.track("unsubscribed", email="s3@example.com")  # visitor, after step 1
    engine.track("order_placed", order_id="o2", cart_id="c2", value="10.00", currency="EUR")
    engine.track("unsubscribed", email="nobody@example.com")  # no message: counts nowhere
    rows = {(r["path"], r["step"]): r for r in engine.report(by=("path", "step"))}
    assert rows[("customer", 1)]["unsubscribed"] == 1 and rows[("visitor", 1)]["unsubscribed"] == 1
    assert rows[("visitor", 1)]["conversion"] == 1 / 4 and rows[("customer", 1)]["conversion"] == 0
    [visitors] = engine.report(by=(), path="visitor")
    assert (visitors["sent"], visitors["orders"], visitors["unsubscribed"]) == (4, 1, 1)
    [nothing] = engine.report(by=(), channel="sms")  # no grouping: always one total row
    assert (nothing["sent"], nothing["orders"], nothing["conversion"]) == (0, 0, 0.0)
    [one] = engine.report(by=("flow",), step=1, flow="cart-recovery", channel="email")
    assert one["sent"] == 6
    with pytest.raises(cr.ValidationError) as e:
        engine.report(by=("colour",))
    assert e.value.field == "by"


def test_the_event_log_exports_in_the_form_track_many_takes(make_engine, clock, tmp_path):
    engine = make_engine()
    add_cart(engine, "c1", email="ann@example.com", first_name="Ann", consent={"email": True})
    engine.track("checkout_stage", cart_id="c1", stage="payment")
    engine.track("order_placed", order_id="o1", cart_id="c1", value="59.97", currency="EUR")
    events = list(engine.events())
    assert [e["type"] for e in events] == ["cart_updated", "contact_captured", "checkout_stage", "order_placed"]
    assert events[0]["items"][0]["price"] == "19.99" and events[-1]["value"] == "59.97"
    assert all(e["at"] == T0 for e in events)
    assert list(engine.events(since=T0 + HOUR)) == []
    copy = cr.Engine(store=f"sqlite:///{tmp_path / 'copy.db'}", clock=clock, settings=SETTINGS)
    try:
        copy.track_many(events)
        original, replayed = engine.cart("c1"), copy.cart("c1")
        for key in ("state", "stage", "value", "currency", "items"):
            assert replayed[key] == original[key]
        assert list(copy.events()) == events
    finally:
        copy.close()


def test_an_order_after_a_shown_popup_counts_for_the_popup_unless_a_reminder_came_later(make_engine, clock):
    engine = make_engine(settings={
        **SETTINGS, "coupon_pools": [{"name": "p", "kind": "generated", "percent": 10}],
        "exit_intent": {"pool": "p", "incentive": {"share": 1.0}}})
    for cart in ("a", "b"):
        add_cart(engine, cart, email=f"{cart}@example.com", visitor_id=f"v-{cart}")
        engine.track("checkout_stage", cart_id=cart, stage="payment")
    assert engine.exit_intent(visitor_id="v-b", cart_id="b")["show"]   # b: popup, then reminder
    run_at(engine, clock, T0 + HOUR)                                    # reminder 1 to both
    clock.set(T0 + HOUR + HOUR / 2)
    assert engine.exit_intent(visitor_id="v-a", cart_id="a")["show"]   # a: reminder, then popup
    clock.set(T0 + 2 * HOUR)
    for cart in ("a", "b"):
        engine.track("order_placed", order_id=f"o{cart}", cart_id=cart, value="59.97", currency="EUR")
    rows = {(r["flow"], r["channel"]): r for r in engine.report(by=("flow", "channel"))}
    assert rows[("cart-recovery", "email")]["orders"] == 1   # b: the reminder was the last touch
    assert rows[("exit_intent", "coupon")]["orders"] == 1    # a: the popup was
    assert rows[("exit_intent", "coupon")]["sent"] == 0
    assert rows[("cart-recovery", "email")]["sent"] == 2


@pytest.mark.parametrize("currency,price", [("JPY", "1500"), ("KWD", "12.345"), ("EUR", "0.10")])
def test_exported_amounts_keep_their_currency_exponent(make_engine, currency, price):
    engine = make_engine(settings={**SETTINGS, "currency": currency})
    engine.track("cart_updated", cart_id="c", items=[{"sku": "S", "price": price, "quantity": 2}])
    engine.track("contact_captured", cart_id="c", email="a@example.com", lifetime_value=price,
                 orders_count=3, consent={"email": True, "sms": False})
    engine.track("order_placed", order_id="o", email="a@example.com", value=price)
    cart, contact, order = list(engine.events())
    assert cart["items"][0]["price"] == price and cart["currency"] == currency  # the default, written out
    assert contact["lifetime_value"] == price and contact["consent"] == {"email": True, "sms": False}
    assert order["value"] == price


def test_messages_of_the_whole_store_are_limited_only_when_asked(make_engine, clock):
    engine = make_engine()
    for i in range(5):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)
    assert len(engine.messages()) == 5 and len(engine.messages(limit=None)) == 5
    assert [m["cart_id"] for m in engine.messages(limit=2)] == ["c0", "c1"]  # oldest first
    assert [m["cart_id"] for m in engine.messages(email="S3@example.com")] == ["c3"]
    assert [m["cart_id"] for m in engine.messages(cart_id="c4", email="s4@example.com")] == ["c4"]
    assert engine.messages(cart_id="c4", email="s3@example.com") == []
    with pytest.raises(cr.ValidationError) as e:
        engine.messages(limit=0)
    assert e.value.field == "limit"
