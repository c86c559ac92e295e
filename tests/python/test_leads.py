"""Lead temperature as R1.4 and S9 define it, from whatever events the shop sends: buyers are
no lead; hot = reached checkout (contact, shipping or payment) without ordering; warm =
viewed products or categories, or had a cart that never reached checkout; cold = only
visited."""
from __future__ import annotations

from conftest import DAY, KITE, T0, add_cart


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


def test_a_contact_captured_on_an_empty_cart_is_no_hot_lead(engine):
    # Hot means added to the cart and reached checkout: an e-mail typed at checkout with
    # nothing in the cart (emptied, or a cart never filled) is a shopper who only visited.
    add_cart(engine, "emptied", visitor_id="v-emptied", items=[])
    engine.track("contact_captured", cart_id="never-filled", visitor_id="v-never",
                 email="bob@example.com")
    add_cart(engine, "full", visitor_id="v-full", email="cat@example.com")
    assert engine.leads() == {"cold": 2, "warm": 0, "hot": 1}
