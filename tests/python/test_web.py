"""cartrecovery.web: the framework-neutral pieces both adapters share."""
from __future__ import annotations

import json
import os
import time
import warnings

import pytest

import cartrecovery as cr
from cartrecovery import web

SECRET = "s3cret-s3cret-s3cret"


def fork() -> int:
    # Python 3.12+ warns when a process with threads forks; that is the situation under test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def test_settings_precedence_code_then_dict_then_environment_then_default():
    env = {"CARTRECOVERY_SHOP_NAME": "From env", "CARTRECOVERY_MAX_BODY_BYTES": "100"}
    cfg = web.AdapterSettings({"SHOP_NAME": "From dict"}, {"shop_name": "From code"}, environ=env)
    assert cfg.get("SHOP_NAME") == "From code"
    assert web.AdapterSettings({"SHOP_NAME": "From dict"}, environ=env).get("shop_name") == "From dict"
    assert web.AdapterSettings({}, environ=env).get("SHOP_NAME") == "From env"
    assert web.AdapterSettings({}, environ=env).get("MAX_BODY_BYTES") == 100
    assert web.AdapterSettings({}, environ={}).get("SHOP_NAME") == "Our shop"


def test_unknown_setting_and_problems_are_reported():
    with pytest.raises(cr.ConfigError, match="SECRT"):
        web.AdapterSettings({"SECRT": "x"})
    problems = web.AdapterSettings({}, environ={}).problems()
    assert any("SECRET is not set" in p for p in problems)
    assert any("BASE_URL is not set" in p for p in problems)
    assert web.AdapterSettings({"SECRET": "short", "BASE_URL": "/cr/"}, environ={}).problems() == [
        "SECRET is shorter than 16 bytes",
        "BASE_URL '/cr/' must be an absolute http(s) URL without query or fragment"]
    assert web.AdapterSettings({"SECRET": SECRET, "BASE_URL": "https://s.example/cr/"}, environ={}).problems() == []


def test_hooks_by_dotted_path():
    cfg = web.AdapterSettings({"RESTORE_CART": "os.path.join", "CART_IS_ORDERED": "nope.missing"})
    assert cfg.hook("RESTORE_CART") is os.path.join
    with pytest.raises(cr.ConfigError, match="cannot import"):
        cfg.hook("CART_IS_ORDERED")


def test_visitor_token_round_trip_and_refusals():
    t = web.sign_visitor(SECRET, "v1", "c1")
    assert web.verify_visitor(SECRET, t, 60) == web.Visitor("v1", "c1")
    payload, tag = t.split(".")
    forged = web._b64(json.dumps(["v2", "c1", int(time.time())]).encode()) + "." + tag
    for bad in (forged, t + "x", "", None, 5, "a.b.c"):
        with pytest.raises(web.BadRequest) as e:
            web.verify_visitor(SECRET, bad, 60)
        assert e.value.status == 403
    with pytest.raises(web.BadRequest, match="signature"):
        web.verify_visitor("another-secret-of-16+", t, 60)
    old = web.sign_visitor(SECRET, "v1", None, now=time.time() - 120)
    with pytest.raises(web.BadRequest, match="expired"):
        web.verify_visitor(SECRET, old, 60)


@pytest.mark.parametrize("header,expected", [
    ("de-CH,de;q=0.9,en;q=0.8", "de-CH"),
    ("en;q=0.5, pl;q=0.9", "pl"),
    ("*", None), ("", None), (None, None), ("fr;q=0, es", "es"), ("x-ünicode, en", "en"),
])
def test_language_from_accept(header, expected):
    assert web.language_from_accept(header) == expected


def test_same_origin_check():
    own = "https://shop.example"
    web.check_same_origin({"Origin": "https://shop.example"}, own)
    web.check_same_origin({"Sec-Fetch-Site": "same-origin"}, own)
    web.check_same_origin({"Referer": "https://shop.example/checkout"}, own)
    web.check_same_origin({"Origin": "https://cdn.example"}, own, ("https://cdn.example",))
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Referer": "https://evil.example/"}, {}):
        with pytest.raises(web.BadRequest) as e:
            web.check_same_origin(headers, own)
        assert e.value.status == 403


def test_engine_holder_is_lazy_and_forgets_the_parents_engine_after_fork():
    made = []
    holder = web.EngineHolder(lambda: made.append(object()) or made[-1])
    assert made == [] and not holder.opened
    first = holder.get()
    assert holder.get() is first and len(made) == 1
    r, w = os.pipe()
    pid = fork()
    if pid == 0:  # child: must open its own
        try:
            os.write(w, b"1" if holder.get() is not first and len(made) == 2 else b"0")
        finally:
            os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.close(r)
    os.waitpid(pid, 0)
    assert holder.get() is first


def test_beacon_events_take_ids_from_the_token_only():
    v = web.Visitor("v1", "c1")
    events = web.beacon_events({"events": [
        {"type": "page_view", "page_type": "product", "product_id": "K1", "visitor_id": "evil"},
        {"type": "contact", "email": "a@b.example", "timezone": "Europe/Warsaw", "cart_id": "evil"}]},
        v, "de", 10)
    assert events == [
        {"type": "page_view", "visitor_id": "v1", "page_type": "product", "product_id": "K1", "cart_id": "c1"},
        {"type": "contact_captured", "visitor_id": "v1", "cart_id": "c1", "email": "a@b.example",
         "language": "de", "timezone": "Europe/Warsaw"}]
    for body, message in [({"events": []}, "non-empty"), ({"events": [{"type": "order_placed"}]}, "type"),
                          ({"events": [{"type": "page_view", "page_type": "x"}]}, "page_type"),
                          ({"events": [{"type": "contact"}]}, "email or phone")]:
        with pytest.raises(web.BadRequest, match=message):
            web.beacon_events(body, v, None, 10)


def test_script_tag_escapes_and_carries_the_nonce():
    tag = web.script_tag("/cr/cartrecovery.js", "/cr/", 'a"b', "product", "N0NCE", cart_items=2)
    assert 'data-cr-token="a&quot;b"' in tag and 'nonce="N0NCE"' in tag
    assert 'data-cr-cart-items="2"' in tag and tag.endswith("></script>")


@pytest.mark.parametrize("text,expected", [("0", False), ("false", False), ("No", False), ("off", False),
                                           ("", False), ("1", True), ("TRUE", True), ("yes", True), ("on", True)])
def test_boolean_settings_from_the_environment(text, expected):
    cfg = web.AdapterSettings({}, environ={"CARTRECOVERY_TRACK_ANYMAIL": text})
    assert cfg.get("TRACK_ANYMAIL") is expected


def test_malformed_environment_values_are_config_errors_naming_the_variable():
    with pytest.raises(cr.ConfigError, match="CARTRECOVERY_TRACK_ANYMAIL='maybe'"):
        web.AdapterSettings({}, environ={"CARTRECOVERY_TRACK_ANYMAIL": "maybe"}).get("TRACK_ANYMAIL")
    with pytest.raises(cr.ConfigError, match="CARTRECOVERY_MAX_BODY_BYTES='8k'"):
        web.AdapterSettings({}, environ={"CARTRECOVERY_MAX_BODY_BYTES": "8k"}).get("MAX_BODY_BYTES")


def test_a_framework_config_error_class_is_raised_for_bad_settings():
    class FrameworkError(cr.ConfigError):
        pass

    with pytest.raises(FrameworkError, match="SECRT"):
        web.AdapterSettings({"SECRT": "x"}, config_error=FrameworkError)
    cfg = web.AdapterSettings({"FLOWS": [{"name": "x", "paths": "nope"}], "STORE": ":memory:"},
                              config_error=FrameworkError)
    with pytest.raises(FrameworkError) as e:
        web.open_engine(cfg)
    assert e.value.field  # the engine's path inside the flow document survives


def test_the_order_check_hook_gets_the_email_and_the_old_one_argument_form_still_works():
    asked = []
    two = web.order_check(lambda cart_id, email: asked.append((cart_id, email)) or cart_id == "c1")
    assert two("c1", "ann@example.com") is True and two("c2", "") is False
    assert asked == [("c1", "ann@example.com"), ("c2", None)]
    one = web.order_check(lambda cart_id: cart_id == "c1")
    assert one("c1", "ann@example.com") is True and one("c2", "bob@example.com") is False
    assert web.order_check(None) is None


def test_the_web_package_does_not_import_the_cli():
    import subprocess
    import sys
    code = ("import sys, cartrecovery.web, cartrecovery.web.commands, cartrecovery.web.recording; "
            "assert 'cartrecovery.cli' not in sys.modules, 'web imports cli'; "
            "import cartrecovery.cli")
    subprocess.run([sys.executable, "-c", code], check=True)
