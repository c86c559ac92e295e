"""Hostile input at the Python API: whatever the caller passes, the answer is a
cartrecovery.Error subclass naming the field, and nothing of a refused event is stored
(issue 10, item 4). Runs on SQLite and again on PostgreSQL (tests/run-all.sh)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

import cartrecovery as cr
from conftest import KITE, SETTINGS, add_cart, store_url

LONE = "\ud800"  # a lone surrogate: what json.loads makes of "\ud800" in a beacon


def stored_events(engine) -> list[dict]:
    engine.flush()
    return list(engine.events())


def refused(fn, *args, error=cr.ValidationError, field=None, match=None, **kwargs):
    with pytest.raises(error, match=match) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, cr.Error)
    if field is not None:
        assert info.value.field == field, str(info.value)
    return info.value


# ---- lone surrogates and wrong types -------------------------------------------------------
@pytest.mark.parametrize("fields, field", [
    ({"cart_id": LONE}, "cart_id"),
    ({"cart_id": "c1", "visitor_id": "v" + LONE}, "visitor_id"),
    ({"cart_id": "c1", "items": [dict(KITE, name="Kite" + LONE)]}, "items[0].name"),
    ({"cart_id": "c1", "items": [dict(KITE, sku=LONE)]}, "items[0].sku"),
    ({"cart_id": "c1", "items": [dict(KITE, price="1" + LONE)]}, "items[0].price"),
    ({"cart_id": "c1", "restore_url": "https://kite.example/" + LONE}, "restore_url"),
    ({"cart_id": "c1", LONE: "x"}, ""),
])
def test_a_lone_surrogate_in_any_field_is_a_validation_error_naming_it(engine, fields, field):
    err = refused(engine.track, "cart_updated", **fields)
    if field:
        assert err.field == field
    assert "surrogate" in str(err)
    assert stored_events(engine) == []


def test_a_lone_surrogate_in_the_event_type_is_a_validation_error(engine):
    refused(engine.track, "cart" + LONE, field="type", cart_id="c1")
    refused(engine.track, 7, field="type", cart_id="c1")
    refused(engine.track_many, [{"type": "cart" + LONE, "cart_id": "c1"}], field="[0].type")
    assert stored_events(engine) == []


@pytest.mark.parametrize("batch, field", [
    ([None], "[0]"),
    ([{"type": "page_view", "visitor_id": "v1", "page_type": "home"}, "page_view"], "[1]"),
    ([{"type": None, "cart_id": "c1"}], "[0].type"),
    ([{"type": "cart_updated", "cart_id": b"c1"}], "[0].cart_id"),
    ([{"type": "cart_updated", "cart_id": "c1", "items": [None]}], "[0].items[0]"),
])
def test_track_many_refuses_a_batch_with_a_bad_element_as_a_whole(engine, batch, field):
    refused(engine.track_many, batch, field=field)
    assert stored_events(engine) == []


def test_track_many_of_something_that_is_not_a_list(engine):
    refused(engine.track_many, None, field="events")
    refused(engine.track_many, {"type": "page_view"}, field="events")


def test_bytes_and_objects_in_fields_name_the_field(engine):
    refused(engine.track, "cart_updated", cart_id="c1", items=[dict(KITE, quantity=b"3")],
            field="items[0].quantity")
    refused(engine.track, "contact_captured", cart_id="c1", email=object(), field="email")
    refused(engine.track, "contact_captured", cart_id="c1", consent={1: True}, field="consent")
    assert stored_events(engine) == []


@pytest.mark.parametrize("call, field", [
    (lambda e: e.cart(LONE), "cart_id"),
    (lambda e: e.cart(None), "cart_id"),
    (lambda e: e.messages(email=LONE), "email"),
    (lambda e: e.exit_intent(visitor_id=LONE), "visitor_id"),
    (lambda e: e.exit_intent(visitor_id="v1", cart_id=["c"]), "cart_id"),
    (lambda e: e.validate_coupon(None), "code"),
    (lambda e: e.redeem_coupon("ABC", LONE), "order_id"),
    (lambda e: e.pause_flow(LONE), "flow"),
    (lambda e: e.import_coupons("p", None), "path"),
    (lambda e: e.import_coupons("p", "x.csv", column=-1), "column"),
    (lambda e: e.add_coupon_pool(LONE), "name"),
    (lambda e: e.report(by=[LONE]), "by"),
    (lambda e: e.handle_link("c/" + LONE), "path"),
])
def test_every_entry_point_answers_bad_arguments_with_a_validation_error(engine, call, field):
    refused(call, engine, field=field)


# ---- settings ------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value", [
    ("queue_capacity", "10"),
    ("queue_capacity", 0),
    ("queue_capacity", True),
    ("max_batch", 1.5),
    ("lease_seconds", "30"),
    ("lease_seconds", float("nan")),
    ("lease_seconds", -1),
    ("secret", b"bytes are not a secret's type"),
    ("secret", ["ok-secret-ok-secret", None]),
    ("shop_name", "Kite" + LONE),
    ("timezone", 5),
    ("policies", ["not", "a", "dict"]),
    ("sales_alert", {"min_value": object()}),
    ("coupon_pools", [None]),
])
def test_a_setting_of_the_wrong_type_is_a_config_error_naming_it(make_engine, key, value):
    err = refused(make_engine, error=cr.ConfigError, settings=dict(SETTINGS, **{key: value}))
    assert err.field.startswith(f"settings.{key}"), err.field


def test_durations_may_be_timedeltas(make_engine):
    engine = make_engine(settings=dict(SETTINGS, lease_seconds=timedelta(seconds=45),
                                       retry_base_seconds=Decimal("1.5")))
    add_cart(engine)
    assert engine.cart("c1")["state"] == "active"


def test_unknown_time_zone_and_currency_in_settings_are_config_errors(make_engine):
    refused(make_engine, error=cr.ConfigError, settings=dict(SETTINGS, timezone="QQQ"))
    refused(make_engine, error=cr.ConfigError, settings=dict(SETTINGS, currency="XYZ"))


def test_a_store_url_that_is_not_text_is_a_config_error(db_path, clock):
    refused(cr.Engine, error=cr.ConfigError, field="store", store=b"sqlite:///x.db", clock=clock)
    refused(cr.Engine, error=cr.ConfigError, field="store", store="sqlite:///" + LONE, clock=clock)


# ---- accepted before, wrong: money, names, currencies, time zones ---------------------------
@pytest.mark.parametrize("item, field", [
    (dict(KITE, price="10000000000000.00", quantity=1), "items[0].price"),    # 10^15 cents + 0
    (dict(KITE, price="10000000000000.01", quantity=1), "items[0].price"),
    (dict(KITE, price=2 ** 62, quantity=1), "items[0].price"),
    (dict(KITE, price="92233720368547758.07", quantity=1), "items[0].price"),  # int64 max
    (dict(KITE, price="9000000000000", quantity=100000), "items[0]"),          # the product
])
def test_amounts_beyond_ten_to_the_fifteen_minor_units_are_refused(engine, item, field):
    if item["price"] == "10000000000000.00":
        # Exactly 10^15 minor units is the largest amount accepted.
        engine.track("cart_updated", cart_id="big", items=[item], currency="EUR")
        assert engine.cart("big")["value"] == Decimal("10000000000000.00")
        return
    refused(engine.track, "cart_updated", cart_id="c1", items=[item], currency="EUR", field=field)
    assert engine.cart("c1") is None


def test_a_cart_whose_lines_add_up_beyond_the_cap_is_refused_and_never_wraps(engine):
    lines = [dict(KITE, sku=f"S{i}", price="9000000000000", quantity=1) for i in range(2)]
    refused(engine.track, "cart_updated", cart_id="c1", items=lines, currency="EUR", field="items")
    assert engine.cart("c1") is None
    refused(engine.track, "order_placed", order_id="o1", cart_id="c1", value=10 ** 14,
            currency="EUR", field="value")
    refused(engine.track, "contact_captured", cart_id="c1", lifetime_value="1e3", field="lifetime_value")


@pytest.mark.parametrize("name", ["Ann\r\nBcc: x@evil.example", "Ann\n", "Ann\tMarie", "Ann\x00",
                                  "Ann\x7f", "Ann\u0085", "Ann\u2028Marie"])
def test_control_characters_in_names_are_refused(engine, name):
    refused(engine.track, "contact_captured", cart_id="c1", email="ann@example.com",
            first_name=name, field="first_name", match="control character")
    refused(engine.track, "cart_updated", cart_id="c1", items=[dict(KITE, name=name)],
            field="items[0].name", match="control character")
    assert stored_events(engine) == []


def test_names_in_any_script_are_accepted(engine):
    add_cart(engine, first_name="Zoë Łucja 李")
    add_cart(engine, "c2", items=[dict(KITE, name="Latawiec żółty – 9 m²")])
    assert engine.cart("c2")["items"][0]["name"] == "Latawiec żółty – 9 m²"


def test_unknown_currencies_are_refused_and_real_ones_kept(engine):
    refused(engine.track, "cart_updated", cart_id="c1", items=[KITE], currency="XYZ",
            field="currency", match="ISO 4217")
    refused(engine.track, "order_placed", order_id="o1", cart_id="c1", value="1", currency="eur",
            field="currency")
    for code, value in (("CHF", "19.99"), ("KWD", "1.250"), ("JPY", "1999"), ("CLF", "1.2345")):
        engine.track("cart_updated", cart_id=f"c-{code}", currency=code,
                     items=[dict(KITE, price=value, quantity=1)])
        assert engine.cart(f"c-{code}")["value"] == Decimal(value)


def test_unknown_time_zones_are_refused(engine):
    refused(engine.track, "contact_captured", cart_id="c1", email="ann@example.com",
            timezone="QQQ", field="timezone", match="IANA")
    refused(engine.track, "contact_captured", cart_id="c1", email="ann@example.com",
            timezone="Europe/Atlantis", field="timezone")
    engine.track("contact_captured", cart_id="c1", email="ann@example.com", timezone="Europe/Warsaw")
    assert len(stored_events(engine)) == 1


# ---- flows --------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["-", "", "{", b"\xff\xfe{", bytearray(b"{\"name\": \"\xe9\"}"),
                                    "[" * 100000, "{\"a\":" * 5000, 17, None, "{\"name\": \"" + LONE + "\"}",
                                    {"name": object()}])
def test_any_flow_document_that_is_not_a_flow_is_a_config_error(source):
    err = refused(cr.Flow.from_json, source, error=cr.ConfigError)
    str(err).encode("utf-8")  # the message itself is text


def test_a_missing_flow_file_is_a_config_error(make_engine, tmp_path):
    refused(make_engine, error=cr.ConfigError, flows=[str(tmp_path / "nope.json")])
    refused(make_engine, error=cr.ConfigError, flows=[42], field="flows")


# ---- coupon CSV ---------------------------------------------------------------------------
def test_a_windows_1252_csv_header_is_refused_saying_what_to_do(engine, tmp_path):
    engine.add_coupon_pool("imp", kind="imported", percent=10)
    path = tmp_path / "codes.csv"
    path.write_bytes("Código;Descripción\r\nABC1;rebajas\r\n".encode("cp1252"))
    err = refused(engine.import_coupons, "imp", str(path), column="Código", field="csv")
    assert "Windows-1252" in str(err) and "CSV UTF-8" in str(err)
    assert engine.free_coupons("imp") == 0


def test_windows_1252_bytes_in_codes_are_bad_rows_and_good_rows_still_import(engine, tmp_path):
    engine.add_coupon_pool("imp", kind="imported", percent=10)
    path = tmp_path / "codes.csv"
    path.write_bytes(b"code,note\r\nGOOD1,x\r\nCAF\xc9,\xe9t\xe9\r\nGOOD2,y\r\n")
    report = engine.import_coupons("imp", str(path), column="code")
    assert report["imported"] == 2
    assert report["bad_rows"] == [(3, "not_utf8", report["bad_rows"][0][2])]
    assert "Windows-1252" in report["bad_rows"][0][2]
    assert engine.free_coupons("imp") == 2


def test_a_utf8_csv_with_a_byte_order_mark_still_imports(engine, tmp_path):
    engine.add_coupon_pool("imp", kind="imported", percent=10)
    path = tmp_path / "codes.csv"
    path.write_bytes("\ufeffCódigo\r\nABC1\r\n".encode("utf-8"))
    assert engine.import_coupons("imp", str(path), column="Código")["imported"] == 1


# ---- messages of errors are text, whatever the input ----------------------------------------
def test_error_messages_quoting_broken_bytes_stay_text(engine, tmp_path):
    engine.add_coupon_pool("imp", kind="imported", percent=10)
    path = tmp_path / "codes.csv"
    path.write_bytes(b"code\r\nABC\r\n")
    err = refused(engine.import_coupons, "imp", str(path), column="c\u00f3digo", field="column")
    assert "código" in str(err)


def test_postgres_runs_see_the_same_refusals(make_engine, db_path):
    # The refusals happen before the store; this checks a second engine on the same store
    # finds nothing of them either.
    engine = make_engine()
    for bad in ({"cart_id": LONE}, {"cart_id": "c1", "currency": "XYZ", "items": [KITE]}):
        with pytest.raises(cr.ValidationError):
            engine.track("cart_updated", **bad)
    engine.close()
    again = make_engine(store=store_url(db_path))
    assert list(again.events()) == []


# ---- the cap on events per cart (item 3, engine side) ----------------------------------------
def test_events_beyond_the_cap_per_cart_are_refused_with_a_clear_error(make_engine, clock):
    engine = make_engine(settings=dict(SETTINGS, max_events_per_cart=3))
    for _ in range(3):
        engine.track("page_view", visitor_id="v1", cart_id="c1", page_type="product")
    err = refused(engine.track, "page_view", visitor_id="v1", cart_id="c1", page_type="home",
                  field="cart_id", match="max_events_per_cart")
    assert "'c1'" in str(err)
    # A batch over the cap is refused whole; other carts and cart-less events go on.
    refused(engine.track_many, [{"type": "page_view", "visitor_id": "v2", "cart_id": "c2", "page_type": "home"},
                                {"type": "page_view", "visitor_id": "v1", "cart_id": "c1", "page_type": "home"}],
            field="[1].cart_id")
    engine.track("page_view", visitor_id="v1", page_type="home")
    engine.track("page_view", visitor_id="v2", cart_id="c2", page_type="home")
    assert len(stored_events(engine)) == 5
    # The window is a day of event time: the next day the cart is welcome again.
    clock.advance(timedelta(days=1))
    engine.track("page_view", visitor_id="v1", cart_id="c1", page_type="cart")
    assert len(stored_events(engine)) == 6


def test_the_cap_per_cart_can_be_turned_off_and_refuses_bad_values(make_engine):
    engine = make_engine(settings=dict(SETTINGS, max_events_per_cart=0))
    engine.track_many([{"type": "page_view", "visitor_id": "v1", "cart_id": "c1", "page_type": "home"}] * 1500)
    assert len(stored_events(engine)) == 1500
    refused(make_engine, error=cr.ConfigError, settings=dict(SETTINGS, max_events_per_cart=-1),
            field="settings.max_events_per_cart")


def test_the_cli_answers_a_windows_1252_csv_with_a_clear_message(make_engine, db_path, tmp_path, capsys):
    from cartrecovery.cli import main
    engine = make_engine()
    engine.add_coupon_pool("imp", kind="imported", percent=10)
    engine.close()
    path = tmp_path / "excel.csv"
    path.write_bytes("Código\r\nÉTÉ10\r\n".encode("cp1252"))
    assert main(["import-coupons", "--store", store_url(db_path), "--pool", "imp", "--csv", str(path),
                 "--column", "Código"]) == 1
    err = capsys.readouterr().err
    assert "ValidationError" in err and "Windows-1252" in err and "CSV UTF-8" in err
