"""Lead temperature as R1.4 and S9 define it, from whatever events the shop sends: buyers are
no lead; hot = reached checkout (contact, shipping or payment) without ordering; warm =
viewed products or categories, or had a cart that never reached checkout; cold = only
visited."""
from __future__ import annotations

from conftest import DAY, KITE, T0, add_cart, run_at


def _cart(engine, cart_id, visitor_id=None, **kw):
    fields = {"cart_id": cart_id, "items": [dict(KITE)], "currency": "EUR"}
    if visitor_id:
        fields["visitor_id"] = visitor_id
    engine.track("cart_updated", **fields, **kw)


def test_a_shop_that_tracks_only_carts_and_checkout_gets_leads(engine):
    # No page views at all, and no visitor ids: the carts are the shoppers.
    _cart(engine, "only-cart")
    _cart(engine, "at-shipping")
    engine.track("checkout_stage", cart_id="at-shipping", stage="shipping_address")
    _cart(engine, "at-payment")
    engine.track("checkout_stage", cart_id="at-payment", stage="payment")
    assert engine.leads() == {"cold": 0, "warm": 1, "hot": 2}


def test_a_buyer_is_no_lead(engine):
    add_cart(engine, "paid", visitor_id="buyer")  # reached the contact stage
    engine.track("checkout_stage", cart_id="paid", stage="payment")
    engine.track("order_placed", order_id="o1", cart_id="paid", value="59.97", currency="EUR")
    add_cart(engine, "left", visitor_id="leaver", email="bob@example.com")
    assert engine.leads() == {"cold": 0, "warm": 0, "hot": 1}


def test_a_buyer_matched_by_email_is_no_lead(engine):
    add_cart(engine, "c1", visitor_id="v1", email="ann@example.com")
    engine.track("order_placed", order_id="o1", email="ann@example.com", value="10", currency="EUR")
    assert engine.leads() == {"cold": 0, "warm": 0, "hot": 0}


def test_a_cart_that_never_reached_checkout_is_warm_not_hot(engine):
    _cart(engine, "c1", visitor_id="v1")
    engine.track("page_view", visitor_id="v1", page_type="cart")
    assert engine.leads() == {"cold": 0, "warm": 1, "hot": 0}


def test_page_views_make_cold_and_warm_leads(engine):
    engine.track("page_view", visitor_id="cold", page_type="home")
    engine.track("page_view", visitor_id="warm-cat", page_type="category")
    engine.track("page_view", visitor_id="warm-prod", page_type="product", product_id="KITE-1")
    engine.track("page_view", visitor_id="hot", page_type="home")
    add_cart(engine, "h", visitor_id="hot")  # e-mail typed at checkout: contact stage
    assert engine.leads() == {"cold": 1, "warm": 2, "hot": 1}


def test_an_order_outside_the_range_does_not_hide_a_lead(engine, clock):
    add_cart(engine, "c1", visitor_id="v1")
    clock.set(T0 + 3 * DAY)
    engine.track("order_placed", order_id="o1", cart_id="c1", value="10", currency="EUR")
    assert engine.leads(until=T0 + DAY) == {"cold": 0, "warm": 0, "hot": 1}
    assert engine.leads() == {"cold": 0, "warm": 0, "hot": 0}


def test_a_contact_captured_on_an_empty_cart_is_no_hot_lead_before_or_after_pruning(make_engine, clock):
    # Hot means added to the cart and reached checkout: an e-mail typed at checkout with
    # nothing in the cart (emptied, or a cart never filled) is a shopper who only visited.
    engine = make_engine(settings={"shop_name": "Kite Shop", "retention_events_days": 20,
                                   "retention_carts_days": 30, "retention_offers_days": 30,
                                   "retention_reports_days": 60})
    add_cart(engine, "emptied", visitor_id="v-emptied", items=[])
    engine.track("contact_captured", cart_id="never-filled", visitor_id="v-never",
                 email="bob@example.com")
    add_cart(engine, "full", visitor_id="v-full", email="cat@example.com")
    day = (T0.replace(hour=0), T0.replace(hour=0) + DAY)
    assert engine.leads(*day) == {"cold": 2, "warm": 0, "hot": 1}
    # The same from the days kept once the events and carts are gone (lead_days), and from
    # the counts per day kept past the reports window (lead_totals).
    for d in range(1, 10):
        run_at(engine, clock, T0 + d * DAY)
    for later in (40, 70):
        clock.set(T0 + later * DAY)
        engine.prune()
        assert engine.leads(*day) == {"cold": 2, "warm": 0, "hot": 1}, later
