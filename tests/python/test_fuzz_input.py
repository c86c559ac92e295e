"""Property-based fuzzing of the public entry points (issue 10, item 4): whatever hypothesis
throws at them (lone surrogates, bytes, huge ints, NaN Decimals, deep lists, odd keys), the
answer is success or a cartrecovery.Error, never another exception, and a refused event
leaves nothing behind. CARTRECOVERY_FUZZ_EXAMPLES raises the number of examples for a long
run by hand (default 150 per property in CI)."""
from __future__ import annotations

import json
import os
from decimal import Decimal

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import cartrecovery as cr  # noqa: E402
from cartrecovery import web  # noqa: E402
from conftest import SETTINGS, T0, store_url  # noqa: E402

EXAMPLES = int(os.environ.get("CARTRECOVERY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Every code point, lone surrogates (category Cs) included.
any_char = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=[]),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=[]),  # lone surrogates
    st.characters(min_codepoint=0, max_codepoint=0x9F, exclude_categories=[]))  # controls, Latin-1
any_text = st.text(any_char, max_size=40)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), any_text, st.binary(max_size=20),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(["EUR", "XYZ", "JPY", "Europe/Warsaw", "QQQ", "19.99", "1e3", "-0",
                     "99999999999999999999", "ann@example.com", "+48601234567", "\r\n", "\x00"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(any_text, st.integers()), inner, max_size=4)),
    max_leaves=12)

FIELDS = ["cart_id", "visitor_id", "items", "currency", "stage", "restore_url", "email", "phone",
          "first_name", "language", "timezone", "orders_count", "lifetime_value", "consent",
          "page_type", "url", "product_id", "order_id", "value", "coupon", "message_id"]
TYPES = ["cart_updated", "contact_captured", "checkout_stage", "page_view", "order_placed",
         "message_opened", "link_clicked", "unsubscribed", "push_subscribed", "message_bounced"]
item = st.fixed_dictionaries({"sku": st.one_of(any_text, values), "price": values,
                              "quantity": st.one_of(st.integers(-5, 10 ** 7), values)},
                             optional={"name": st.one_of(any_text, values), "url": values})
fields = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6).flatmap(
    lambda d: st.one_of(st.just(d), st.lists(item, max_size=3).map(lambda items: {**d, "items": items})))
event_type = st.one_of(st.sampled_from(TYPES), any_text, values)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = cr.Engine(store=store_url(tmp_path_factory.mktemp("fuzz") / "fuzz.db"),
                       clock=cr.ManualClock(T0), settings=dict(SETTINGS, max_events_per_cart=0))
    yield engine
    engine.close()


def only_cartrecovery_errors(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except cr.Error as e:
        str(e).encode("utf-8")  # the message is text whatever the input
        return e


@FUZZ
@given(type_=event_type, fields=fields)
def test_track_answers_any_event_with_success_or_a_cartrecovery_error(engine, type_, fields):
    engine.flush()
    count = sum(1 for _ in engine.events())
    result = only_cartrecovery_errors(engine.track, type_, **fields)
    engine.flush()
    if isinstance(result, cr.Error):
        assert isinstance(result, cr.ValidationError) and isinstance(result.field, str)
        assert sum(1 for _ in engine.events()) == count  # nothing of a refused event


@FUZZ
@given(batch=st.one_of(values, st.lists(st.one_of(values, fields.map(lambda f: {"type": "cart_updated", **f})),
                                        max_size=4)))
def test_track_many_answers_any_batch_with_success_or_a_cartrecovery_error(engine, batch):
    count = sum(1 for _ in engine.events())
    result = only_cartrecovery_errors(engine.track_many, batch)
    engine.flush()
    if isinstance(result, cr.Error):
        assert sum(1 for _ in engine.events()) == count  # all or nothing


@FUZZ
@given(source=st.one_of(any_text, st.binary(max_size=200), values,
                        st.recursive(st.just("[]"), lambda s: s.map(lambda t: "[" + t + "]"), max_leaves=80),
                        st.builds(lambda d: json.dumps(d, default=str), st.dictionaries(
                            st.sampled_from(["name", "abandon_after", "paths", "policies", "enter_when", "x"]),
                            values, max_size=5))))
def test_flow_documents_of_any_shape_are_flows_or_config_errors(source):
    result = only_cartrecovery_errors(cr.Flow.from_json, source)
    assert isinstance(result, (cr.Flow, cr.ConfigError))


@FUZZ
@given(header=st.sampled_from([b"", b"code\n", b"code;x\r\n", b"\xef\xbb\xbfcode,note\n"]),
       data=st.binary(max_size=400), text=st.text(any_char, max_size=60))
def test_coupon_csv_of_any_bytes_imports_or_refuses_clearly(engine, tmp_path_factory, header, data, text):
    try:
        engine.free_coupons("fuzzpool")
    except cr.Error:
        engine.add_coupon_pool("fuzzpool", kind="imported", percent=10)
    path = tmp_path_factory.mktemp("csv") / "codes.csv"
    path.write_bytes(header + data + text.encode("utf-8", "surrogatepass"))
    result = only_cartrecovery_errors(engine.import_coupons, "fuzzpool", str(path), column="code")
    if isinstance(result, dict):
        for line, reason, detail in result["bad_rows"]:
            assert isinstance(detail, str) and line >= 1 and reason


@FUZZ
@given(key=st.sampled_from(["queue_capacity", "lease_seconds", "timezone", "currency", "secret",
                            "policies", "sales_alert", "exit_intent", "coupon_pools", "max_batch",
                            "shop_name", "max_events_per_cart"]), value=values)
def test_settings_of_any_value_make_an_engine_or_a_config_error(tmp_path_factory, key, value):
    result = only_cartrecovery_errors(cr.Engine, store=":memory:", clock=cr.ManualClock(T0),
                                      settings=dict(SETTINGS, **{key: value}))
    if isinstance(result, cr.Engine):
        result.close()
    else:
        assert isinstance(result, cr.Error)


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), values.map(lambda v: json.dumps(v, default=str).encode()),
                      fields.map(lambda f: json.dumps({"t": "TOKEN", "events": [{"type": "contact", **f}]},
                                                      default=str).encode())))
def test_the_beacon_endpoint_answers_any_body_with_a_status(engine, body):
    cfg = web.AdapterSettings({"SECRET": "fuzz-secret-0123456789", "BASE_URL": "https://s.example/cr/",
                               "RATE_LIMITS": {"beacon_per_visitor": None, "beacon_per_address": None}},
                              environ={})
    body = body.replace(b"TOKEN", web.sign_visitor("fuzz-secret-0123456789", "v_fuzz", "c_fuzz").encode())
    answer = web.handle_beacon(lambda: engine, cfg, body, {"Origin": "https://s.example"},
                               "https://s.example", len(body), "192.0.2.1")
    assert answer.status in (204, 400, 403, 413), answer.body
    answer = web.handle_exit_intent(lambda: engine, cfg, body, {"Origin": "https://s.example"},
                                    "https://s.example", len(body), "192.0.2.1")
    assert answer.status in (200, 400, 403, 413), answer.body
