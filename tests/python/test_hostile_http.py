"""Hostile requests over real HTTP, on both adapters (issue 10, items 3 and 4): each shop runs
in a WSGI server on 127.0.0.1 and is spoken to with http.client. Deep nesting, lone
surrogates, broken UTF-8 and forged tokens are 4xx with nothing stored; floods of beacons and
exit-intent calls get 429 with Retry-After, per visitor and per address."""
from __future__ import annotations

import http.client
import json
import os
import threading
from contextlib import contextmanager
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

import cartrecovery as cr
from cartrecovery import abuse, web
from conftest import T0

DJANGO_SECRET = "django-test-secret-0123456789"


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):  # the test reads statuses, not access logs
        pass


class _ThreadedServer(WSGIServer):
    daemon_threads = True


@contextmanager
def serving(wsgi_app):
    server = make_server("127.0.0.1", 0, wsgi_app, server_class=_ThreadedServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Shop:
    """One adapter behind a real server: post(path, body, headers) -> (status, headers, json)."""

    def __init__(self, port: int, secret: str, engine_get, prefix: str):
        self.port, self.secret, self.engine_get, self.prefix = port, secret, engine_get, prefix
        self.origin = f"http://127.0.0.1:{port}"

    def token(self, visitor: str = "v_hostile", cart: str | None = None) -> str:
        return web.sign_visitor(self.secret, visitor, cart)

    def post(self, endpoint: str, body: bytes | str | dict, **headers) -> tuple[int, dict, dict | None]:
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", f"{self.prefix}/{endpoint}", body=body,
                         headers={"Origin": self.origin, "Content-Type": "text/plain", **headers})
            r = conn.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), (json.loads(data) if data else None)
        finally:
            conn.close()

    def stored(self) -> list[dict]:
        engine = self.engine_get()
        engine.flush()
        return list(engine.events())


@pytest.fixture(params=["flask", "django"])
def make_shop(request, tmp_path):
    """make_shop(rate_limits=None) -> Shop on a fresh store, served over HTTP."""
    stack = []

    def make(rate_limits: dict | None = None) -> Shop:
        store = f"sqlite:///{tmp_path / (request.param + '.db')}"
        clock = cr.ManualClock(T0)
        if request.param == "flask":
            pytest.importorskip("flask")
            from flask_testshop import SECRET, create_app
            app = create_app(store, CLOCK=clock, RATE_LIMITS=rate_limits or {})
            state = app.extensions["cartrecovery"]
            cm = serving(app)
            port = cm.__enter__()
            stack.append(lambda: (cm.__exit__(None, None, None), state.holder.close()))

            def engine_get():
                with app.app_context():
                    return state.holder.get()
            return Shop(port, SECRET, engine_get, "/cr")
        django = pytest.importorskip("django")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
        django.setup()
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application
        from django.test import override_settings
        import cartrecovery.django as crd
        override = override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "STORE": store, "CLOCK": clock,
                                                   "RATE_LIMITS": rate_limits or {}})
        override.enable()
        crd.reset()
        cm = serving(get_wsgi_application())
        port = cm.__enter__()
        stack.append(lambda: (cm.__exit__(None, None, None), crd.reset(), override.disable()))
        return Shop(port, DJANGO_SECRET, crd.engine, "/cr")

    yield make
    for close in reversed(stack):
        close()


def contact(email="ann@example.com", **more) -> dict:
    return {"type": "contact", "email": email, **more}


# ---- hostile bodies: 4xx, nothing stored ---------------------------------------------------
def test_deep_nesting_is_refused_before_parsing_and_before_the_token(make_shop):
    shop = make_shop()
    body = '{"t": "not even a token", "events": ' + "[" * 3000 + "]" * 3000 + "}"  # ~6 KB
    status, _, answer = shop.post("b", body)
    assert status == 400 and "nested deeper" in answer["error"]
    status, _, answer = shop.post("x", "[" * 6000)
    assert status == 400 and "nested deeper" in answer["error"]
    assert shop.stored() == []


def test_a_lone_surrogate_in_a_beacon_field_is_a_400_naming_the_field(make_shop):
    shop = make_shop()
    # json.dumps writes the escape "\ud800", which json.loads turns back into a lone surrogate.
    for event in (contact(first_name="Ann\ud800"), contact(email="ann\udfff@example.com"),
                  {"type": "page_view", "page_type": "product", "product_id": "\ud800"}):
        status, _, answer = shop.post("b", {"t": shop.token(), "events": [event]})
        assert status == 400, answer
        assert "surrogate" in answer["error"]
    assert shop.stored() == []


def test_bodies_that_are_not_utf8_or_not_text_are_400(make_shop):
    shop = make_shop()
    for body in (b'{"t": "\xff\xfe", "events": []}', b"\x00" * 100, '{"t": "x\ud800"}'):
        status, _, answer = shop.post("b", body)
        assert status in (400, 403), (body, status, answer)
    status, _, _ = shop.post("b", {"t": "abc\ud800.def", "events": [contact()]})
    assert status == 403  # a token that is not base64url is no token, not a crash
    status, _, _ = shop.post("x", {"t": "\ud800.\ud800"})
    assert status == 403
    assert shop.stored() == []


def test_control_characters_and_unknown_values_from_the_browser(make_shop):
    shop = make_shop()
    status, _, answer = shop.post("b", {"t": shop.token(), "events": [contact(first_name="Ann\r\nBcc: x")]})
    assert status == 400 and "first_name" in answer["error"]
    assert shop.stored() == []
    # An unknown zone the browser claims is dropped, the contact still captured.
    assert shop.post("b", {"t": shop.token(), "events": [contact(timezone="Mars/Olympus")]})[0] == 204
    [event] = shop.stored()
    assert event["type"] == "contact_captured" and "timezone" not in event


# ---- rate limits ---------------------------------------------------------------------------
def test_a_flood_of_beacons_from_one_visitor_gets_429_with_retry_after(make_shop):
    # Per hour, so no token comes back while the test runs, however slow the machine.
    shop = make_shop({"beacon_per_visitor": "5/h", "beacon_per_address": None})
    token = shop.token("v_flood")
    statuses = [shop.post("b", {"t": token, "events": [{"type": "page_view", "page_type": "home"}]})
                for _ in range(40)]
    assert [s for s, _, _ in statuses[:5]] == [204] * 5
    assert {s for s, _, _ in statuses[5:]} == {429}
    _, headers, answer = statuses[-1]
    assert 1 <= int(headers["Retry-After"]) <= 720 and "too many" in answer["error"]
    assert len(shop.stored()) == 5
    # Another visitor is not held back by this one.
    assert shop.post("b", {"t": shop.token("v_other"), "events": [contact()]})[0] == 204


def test_many_visitors_from_one_address_get_429(make_shop):
    shop = make_shop({"beacon_per_visitor": None, "beacon_per_address": "8/h"})
    statuses = [shop.post("b", {"t": shop.token(f"v{i}"), "events": [{"type": "page_view"}]})[0]
                for i in range(12)]
    assert statuses == [204] * 8 + [429] * 4
    assert len(shop.stored()) == 8


def test_behind_a_proxy_the_named_header_gives_the_address(make_shop):
    shop = make_shop({"beacon_per_visitor": None, "beacon_per_address": "2/h",
                      "address_header": "X-Forwarded-For"})
    page = {"type": "page_view"}
    def post(visitor, forwarded):
        return shop.post("b", {"t": shop.token(visitor), "events": [page]},
                         **{"X-Forwarded-For": forwarded})[0]
    assert [post("a1", "spoofed, 203.0.113.1"), post("a2", "203.0.113.1"),
            post("a3", "198.51.100.7, 203.0.113.1")] == [204, 204, 429]
    assert post("b1", "203.0.113.2") == 204  # another client behind the same proxy


def test_exit_intent_is_rate_limited_per_visitor(make_shop):
    shop = make_shop({"exit_intent_per_visitor": "2/h", "exit_intent_per_address": None})
    token = shop.token("v_leaving")
    statuses = [shop.post("x", {"t": token})[0] for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert shop.post("x", {"t": shop.token("v_someone_else")})[0] == 200


def test_a_bad_rate_limit_setting_is_a_reported_problem():
    cfg = web.AdapterSettings({"RATE_LIMITS": {"beacon_per_visitor": "lots"}, "SECRET": "x" * 20,
                               "BASE_URL": "https://s.example/cr/"}, environ={})
    assert any("beacon_per_visitor" in p for p in cfg.problems())
    with pytest.raises(cr.ConfigError, match="per_typo"):
        abuse.Limits({"per_typo": "1/s"})
    with pytest.raises(cr.ConfigError, match="max_json_depth"):
        abuse.Limits({"max_json_depth": 1000})


def test_token_buckets_refill_at_their_rate():
    now = [0.0]
    buckets = abuse.TokenBuckets(*abuse.parse_rate("3/m", "r"), clock=lambda: now[0])
    for _ in range(3):
        buckets.take("v")
    with pytest.raises(abuse.RateLimited) as e:
        buckets.take("v")
    assert e.value.retry_after == 20  # one token per 20 s
    now[0] = 19.0
    with pytest.raises(abuse.RateLimited):
        buckets.take("v")
    now[0] = 20.5
    buckets.take("v")
    buckets.take("w")  # keys are independent


def test_json_depth_ignores_brackets_in_strings():
    assert abuse.json_depth(b'{"a": "[[[[[[[[[[", "b": [[1]]}') == 3
    assert abuse.json_depth(b'{"a": "\\\"[[[["}') == 1
    assert abuse.json_depth(b"[" * 5000) == 5000
