"""Events in: every type accepted with valid fields, every refusal names its field, money is
exact, refused events leave nothing behind; settings and status()."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

import cartrecovery as cr
from conftest import HOUR, KITE, T0, add_cart, run_at

ITEM = {"sku": "KITE-1", "name": "Kite Pro 9m", "price": "19.99", "quantity": 1,
        "image_url": "https://kite.example/img/k1.jpg", "url": "https://kite.example/p/k1"}

VALID = {
    "cart_updated": {"cart_id": "c1", "visitor_id": "v1", "items": [ITEM], "currency": "EUR",
                     "stage": "cart", "restore_url": "https://kite.example/cart/c1"},
    "contact_captured": {"cart_id": "c1", "visitor_id": "v1", "email": "ann@example.com",
                         "phone": "+48601234567", "first_name": "Ann",
                         "language": "pl-PL,pl;q=0.9,en;q=0.8", "timezone": "Europe/Warsaw",
                         "orders_count": 2, "lifetime_value": Decimal("120.50"),
                         "consent": {"email": True, "sms": True, "push": False,
                                     "personalization": True}},
    "checkout_stage": {"cart_id": "c1", "stage": "shipping_address"},
    "page_view": {"visitor_id": "v1", "page_type": "product", "url": "https://kite.example/p/k1",
                  "product_id": "KITE-1"},
    "order_placed": {"order_id": "o-1", "cart_id": "c1", "email": "ann@example.com",
                     "phone": "+48601234567", "value": "19.99", "currency": "EUR",
                     "coupon": "SPRING10"},
    "message_opened": {"message_id": "m_unknown"},
    "link_clicked": {"message_id": "m_unknown", "url": "https://kite.example/cart/c1"},
    "unsubscribed": {"email": "ann@example.com"},
}


def events_stored(engine) -> int:
    engine.flush()
    return engine.status()["events"]


@pytest.mark.parametrize("type_", sorted(VALID))
def test_every_event_type_is_accepted(engine, type_):
    before = events_stored(engine)
    engine.track(type_, **VALID[type_])
    assert events_stored(engine) == before + 1


def test_all_valid_events_in_one_batch(engine):
    n = engine.track_many([{"type": t, **f} for t, f in VALID.items()], durable=True)
    assert n == len(VALID)
    assert engine.status()["events"] == len(VALID)


@pytest.mark.parametrize("type_, fields, field", [
    ("cart_updated", {"visitor_id": "v1"}, "cart_id"),
    ("cart_updated", {"cart_id": "c1", "items": [{"price": "1", "quantity": 1}]}, "items[0].sku"),
    ("cart_updated", {"cart_id": "c1", "items": [{"sku": "a", "quantity": 1}]}, "items[0].price"),
    ("cart_updated", {"cart_id": "c1", "items": [ITEM, {"sku": "a", "price": "1"}]}, "items[1].quantity"),
    ("contact_captured", {"email": "ann@example.com"}, "cart_id"),
    ("checkout_stage", {"stage": "payment"}, "cart_id"),
    ("checkout_stage", {"cart_id": "c1"}, "stage"),
    ("page_view", {"page_type": "home"}, "visitor_id"),
    ("page_view", {"visitor_id": "v1"}, "page_type"),
    ("order_placed", {"cart_id": "c1"}, "order_id"),
    ("order_placed", {"order_id": "o-1"}, "cart_id"),
    ("message_opened", {}, "message_id"),
    ("link_clicked", {"url": "https://kite.example/"}, "message_id"),
    ("unsubscribed", {}, "email"),
])
def test_missing_required_field_is_named(engine, type_, fields, field):
    with pytest.raises(cr.ValidationError) as info:
        engine.track(type_, **fields)
    assert info.value.field == field
    assert field in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, cr.Error)


@pytest.mark.parametrize("type_", sorted(VALID))
def test_unknown_field_is_refused(engine, type_):
    with pytest.raises(cr.ValidationError) as info:
        engine.track(type_, **VALID[type_], colour="blue")
    assert info.value.field == "colour"
    assert events_stored(engine) == 0


def test_unknown_field_inside_an_item_is_refused(engine):
    with pytest.raises(cr.ValidationError) as info:
        engine.track("cart_updated", cart_id="c1", items=[{**ITEM, "weight": "2kg"}])
    assert info.value.field == "items[0].weight"


def test_unknown_event_type_is_refused(engine):
    with pytest.raises(cr.ValidationError) as info:
        engine.track("cart_abandoned", cart_id="c1")
    assert info.value.field == "type"


@pytest.mark.parametrize("type_, fields, field", [
    ("cart_updated", {"cart_id": "c1", "items": [{**ITEM, "price": 19.99}]}, "items[0].price"),
    ("cart_updated", {"cart_id": "c1", "items": [{**ITEM, "price": "19.999"}]}, "items[0].price"),
    ("cart_updated", {"cart_id": "c1", "items": [{**ITEM, "price": "-1"}]}, "items[0].price"),
    ("cart_updated", {"cart_id": "c1", "items": [{**ITEM, "price": True}]}, "items[0].price"),
    ("cart_updated", {"cart_id": "c1", "items": [{**ITEM, "price": Decimal("NaN")}]}, "items[0].price"),
    ("cart_updated", {"cart_id": "c1", "items": [{**ITEM, "quantity": 0}]}, "items[0].quantity"),
    ("cart_updated", {"cart_id": "c1", "items": [{**ITEM, "quantity": 1.0}]}, "items[0].quantity"),
    ("cart_updated", {"cart_id": "c1", "items": "KITE-1"}, "items"),
    ("cart_updated", {"cart_id": "c1", "currency": "eur"}, "currency"),
    ("cart_updated", {"cart_id": ""}, "cart_id"),
    ("cart_updated", {"cart_id": "c1", "stage": "dancing"}, "stage"),
    ("cart_updated", {"cart_id": "c1", "restore_url": "javascript:alert(1)"}, "restore_url"),
    ("contact_captured", {"cart_id": "c1", "email": "not-an-address"}, "email"),
    ("contact_captured", {"cart_id": "c1", "phone": "601 234 567"}, "phone"),
    ("contact_captured", {"cart_id": "c1", "orders_count": -1}, "orders_count"),
    ("contact_captured", {"cart_id": "c1", "lifetime_value": 10.5}, "lifetime_value"),
    ("contact_captured", {"cart_id": "c1", "consent": {"email": "yes"}}, "consent.email"),
    ("contact_captured", {"cart_id": "c1", "consent": {"fax": True}}, "consent.fax"),
    ("page_view", {"visitor_id": "v1", "page_type": "blog"}, "page_type"),
    ("order_placed", {"order_id": "o-1", "cart_id": "c1", "value": 59.97}, "value"),
])
def test_bad_values_are_refused_with_their_field(engine, type_, fields, field):
    with pytest.raises(cr.ValidationError) as info:
        engine.track(type_, **fields)
    assert info.value.field == field


def test_float_price_is_refused_and_says_why(engine):
    with pytest.raises(cr.ValidationError) as info:
        engine.track("cart_updated", cart_id="c1", items=[{"sku": "a", "price": 19.99, "quantity": 1}])
    assert info.value.field == "items[0].price"
    assert "float" in str(info.value)


@pytest.mark.parametrize("price, quantity, value", [
    (Decimal("19.99"), 3, Decimal("59.97")),
    ("19.99", 3, Decimal("59.97")),
    (20, 3, Decimal("60.00")),
    ("0.10", 3, Decimal("0.30")),  # 0.1 * 3 in floats is 0.30000000000000004
    (Decimal("1E+1"), 2, Decimal("20.00")),
])
def test_money_is_exact(engine, price, quantity, value):
    engine.track("cart_updated", cart_id="c1", currency="EUR",
                 items=[{"sku": "a", "name": "Kite", "price": price, "quantity": quantity}])
    cart = engine.cart("c1")
    assert isinstance(cart["value"], Decimal) and cart["value"] == value
    assert str(cart["value"]) == str(value)
    assert isinstance(cart["items"][0]["price"], Decimal)
    assert cart["items"][0]["price"] * quantity == value


def test_money_follows_the_currency_exponent(engine):
    engine.track("cart_updated", cart_id="c1", currency="JPY",
                 items=[{"sku": "a", "price": "1500", "quantity": 2}])
    assert engine.cart("c1")["value"] == Decimal("3000")
    with pytest.raises(cr.ValidationError) as info:
        engine.track("cart_updated", cart_id="c2", currency="JPY",
                     items=[{"sku": "a", "price": "15.5", "quantity": 1}])
    assert info.value.field == "items[0].price"


def test_order_value_is_exact_in_the_report(engine, clock):
    add_cart(engine)
    run_at(engine, clock, T0 + HOUR)
    clock.set(T0 + 2 * HOUR)
    engine.track("order_placed", order_id="o-1", cart_id="c1", value=Decimal("59.97"), currency="EUR",
                 coupon="SPRING10")
    (row,) = engine.report()
    assert row["orders"] == 1 and row["orders_with_coupon"] == 1
    assert row["revenue"] == Decimal("59.97") and isinstance(row["revenue"], Decimal)


def test_naive_datetime_is_refused(engine):
    with pytest.raises(cr.ValidationError) as info:
        engine.track("cart_updated", cart_id="c1", at=datetime(2026, 3, 2, 9, 0))
    assert info.value.field == "at"
    with pytest.raises(cr.ValidationError):
        engine.track("cart_updated", cart_id="c1", at="2026-03-02T09:00:00Z")
    assert events_stored(engine) == 0


def test_aware_datetime_in_another_zone_is_the_same_instant(engine):
    plus_two = timezone(timedelta(hours=2))
    engine.track("cart_updated", cart_id="c1", items=[KITE], at=datetime(2026, 3, 2, 13, 0, tzinfo=plus_two))
    assert engine.cart("c1")["last_activity"] == datetime(2026, 3, 2, 11, 0, tzinfo=timezone.utc)


def test_track_many_is_all_or_nothing(engine):
    engine.track("page_view", visitor_id="v0", page_type="home")
    before = events_stored(engine)
    batch = [
        {"type": "cart_updated", "cart_id": "c1", "items": [ITEM]},
        {"type": "page_view", "visitor_id": "v1", "page_type": "home"},
        {"type": "cart_updated", "cart_id": "c2", "items": [{**ITEM, "price": 1.5}]},
        {"type": "page_view", "visitor_id": "v2", "page_type": "home"},
    ]
    with pytest.raises(cr.ValidationError) as info:
        engine.track_many(batch)
    assert info.value.field == "[2].items[0].price"
    assert str(info.value).startswith("[2].items[0].price:")
    assert str(info.value).count("items[0].price") == 1
    assert events_stored(engine) == before
    assert engine.cart("c1") is None


@pytest.mark.parametrize("event, field", [
    ({"cart_id": "c9"}, "[1].type"),
    ({"type": "cart_updated", "cart_id": "c9", "at": datetime(2026, 3, 2)}, "[1].at"),
    ({"type": "cart_updated", "cart_id": "c9", "colour": "red"}, "[1].colour"),
    ({"type": "nope"}, "[1].type"),
])
def test_track_many_names_the_index(engine, event, field):
    with pytest.raises(cr.ValidationError) as info:
        engine.track_many([{"type": "page_view", "visitor_id": "v", "page_type": "home"}, event])
    assert info.value.field == field
    assert events_stored(engine) == 0


def test_nothing_is_stored_after_a_refused_event(engine):
    engine.track("cart_updated", cart_id="c1", items=[ITEM], currency="EUR")
    before = events_stored(engine)
    cart_before = engine.cart("c1")
    for bad in ({"cart_id": "c1", "items": [{**ITEM, "price": 2.5}]},
                {"cart_id": "c1", "items": [ITEM], "currency": "euro"},
                {"cart_id": "c1", "items": [ITEM, {"sku": "b", "price": "1", "quantity": -2}]}):
        with pytest.raises(cr.ValidationError):
            engine.track("cart_updated", **bad)
    assert events_stored(engine) == before
    assert engine.cart("c1") == cart_before


def test_gating_events_are_committed_before_track_returns(engine):
    engine.track("order_placed", order_id="o-1", email="ann@example.com")
    engine.track("unsubscribed", email="ann@example.com")
    # No flush: status() reads the store as it is.
    assert engine.status()["events"] == 2
    engine.track("page_view", visitor_id="v", page_type="home", durable=True)
    assert engine.status()["events"] == 3


def test_ids_may_be_ints(engine):
    engine.track("cart_updated", cart_id=42, items=[ITEM])
    assert engine.cart("42")["cart_id"] == "42"


# ---- settings ---------------------------------------------------------------------------------

def test_unknown_setting_is_a_config_error(make_engine):
    with pytest.raises(cr.ConfigError) as info:
        make_engine(settings={"shop_name": "Kite Shop", "shop_nmae": "typo"})
    assert info.value.field == "settings.shop_nmae"
    assert "shop_nmae" in str(info.value)


def test_channel_that_is_not_a_channel_is_a_config_error(make_engine):
    with pytest.raises(cr.ConfigError) as info:
        make_engine(channels={"email": object()})
    assert info.value.field == "channels.email"


def test_known_settings_are_accepted(make_engine):
    e = make_engine(settings={"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
                              "secret": "a-secret-of-32-bytes-for-links!!", "timezone": "Europe/Warsaw",
                              "contact_email": "help@kite.example", "retry_base_seconds": 30,
                              "worker_id": "w-1"})
    assert e.status()["events"] == 0


# ---- status -------------------------------------------------------------------------------------

STATUS_KEYS = {"now", "worker_last_run", "worker_last_id", "worker_running_here", "jobs_due",
               "jobs_pending", "oldest_due", "next_due", "events", "carts", "running_journeys",
               "messages_sent", "messages_failed", "queued", "last_error", "schema_version",
               "healthy", "problems"}


def test_status_of_a_fresh_store(engine, clock):
    s = engine.status()
    assert STATUS_KEYS <= set(s)
    assert s["now"] == clock.now() and s["now"].tzinfo is not None
    assert (s["events"], s["carts"], s["jobs_due"], s["jobs_pending"]) == (0, 0, 0, 0)
    assert s["worker_last_run"] is None and s["worker_running_here"] is False
    assert s["healthy"] is True and s["problems"] == []


def test_status_shows_overdue_jobs_without_a_worker_as_unhealthy(engine, clock):
    add_cart(engine)
    engine.flush()
    s = engine.status()
    assert s["jobs_pending"] == 1 and s["next_due"] == T0 + HOUR and s["carts"] == 1
    clock.set(T0 + 3 * HOUR)
    s = engine.status()
    assert s["jobs_due"] == 1 and s["oldest_due"] == T0 + HOUR
    assert s["healthy"] is False
    assert any("overdue" in p for p in s["problems"])
    assert any("no worker" in p for p in s["problems"])
    # A worker run makes it healthy again.
    assert engine.run_due() >= 1
    s = engine.status()
    assert s["healthy"] is True, s["problems"]
    assert s["worker_last_run"] == T0 + 3 * HOUR and s["worker_last_id"]
    assert s["messages_sent"] == 1 and s["running_journeys"] == 1 and s["jobs_due"] == 0


def test_status_shows_a_worker_that_stopped(engine, clock):
    add_cart(engine)
    run_at(engine, clock, T0 + HOUR)
    next_due = engine.status()["next_due"]
    clock.set(next_due + 2 * HOUR)
    s = engine.status()
    assert s["healthy"] is False
    assert any("last worker run" in p for p in s["problems"])


# ---- the store ----------------------------------------------------------------------------------

@pytest.mark.sqlite_only("holds SQLite's write lock from a second sqlite3 connection")
def test_a_full_queue_refuses_loudly_and_never_drops(make_engine, db_path):
    """While another connection holds the write lock the writer cannot commit; once the
    queue is full, track() raises QueueFullError. Every event accepted is stored later."""
    import sqlite3

    engine = make_engine(settings={"shop_name": "Kite Shop", "queue_capacity": 5})
    engine.track("page_view", visitor_id="v", page_type="home", durable=True)  # schema exists
    blocker = sqlite3.connect(str(db_path), isolation_level=None, timeout=10)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        accepted = 0
        with pytest.raises(cr.QueueFullError) as info:
            for i in range(50):
                engine.track("page_view", visitor_id=f"v{i}", page_type="home")
                accepted += 1
        assert isinstance(info.value, cr.StoreError)
        assert 5 <= accepted < 50
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    engine.flush()
    assert engine.status()["events"] == 1 + accepted


@pytest.mark.sqlite_only("a foreign SQLite file (store_tests refuses a foreign PostgreSQL schema)")
def test_a_foreign_sqlite_file_is_refused(make_engine, db_path):
    import sqlite3

    con = sqlite3.connect(str(db_path))
    con.execute("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total TEXT)")
    con.execute("INSERT INTO invoices(total) VALUES ('10.00')")
    con.commit()
    con.close()
    with pytest.raises(cr.StoreError) as info:
        make_engine()
    assert "not a cartrecovery store" in str(info.value)
    con = sqlite3.connect(str(db_path))
    assert con.execute("SELECT count(*) FROM invoices").fetchone() == (1,)
    con.close()


def test_a_closed_engine_says_so(make_engine):
    engine = make_engine()
    engine.track("page_view", visitor_id="v", page_type="home")
    engine.close()
    engine.close()  # idempotent
    assert engine.running is False
    with pytest.raises(cr.Error, match="closed"):
        engine.track("page_view", visitor_id="v", page_type="home")
    with pytest.raises(cr.Error, match="closed"):
        engine.cart("c1")
    with pytest.raises(cr.Error, match="closed"):
        engine.run_due()


def test_amounts_without_a_currency_are_read_in_the_shops_currency(make_engine):
    # "500" in a yen shop is 500 yen (JPY has no minor unit), never 5.00.
    engine = make_engine(settings={"currency": "JPY"})
    engine.track("cart_updated", cart_id="y1", items=[{"sku": "S", "price": "500", "quantity": 2}])
    cart = engine.cart("y1")
    assert cart["currency"] == "JPY" and cart["value"] == Decimal("1000")
    with pytest.raises(cr.ValidationError) as e:
        engine.track("cart_updated", cart_id="y2", items=[{"sku": "S", "price": "5.50", "quantity": 1}])
    assert e.value.field == "items[0].price"


def test_an_unknown_shop_currency_is_a_config_error(make_engine):
    with pytest.raises(cr.ConfigError):
        make_engine(settings={"currency": "euro"})
