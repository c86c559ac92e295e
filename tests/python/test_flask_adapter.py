"""The Flask extension, through Flask's test client: checkout events, beacons (and the
refusals of forged, cross-origin, oversized and malformed ones), tracking links, commands."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import importlib.metadata

import pytest

pytest.importorskip("flask")

import cartrecovery as cr  # noqa: E402
from cartrecovery import web  # noqa: E402
from conftest import T0  # noqa: E402
from flask_testshop import create_app  # noqa: E402

ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def clock():
    return cr.ManualClock(T0)


@pytest.fixture
def app(tmp_path, clock):
    app = create_app(f"sqlite:///{tmp_path / 'flask.db'}", CLOCK=clock)
    app.testing = True
    yield app
    app.extensions["cartrecovery"].holder.close()


@pytest.fixture
def engine(app):
    with app.app_context():
        return app.extensions["cartrecovery"].holder.get()


@pytest.fixture
def events(engine, monkeypatch):
    """Every event the adapter hands to the engine, as (type, fields), in order."""
    seen = []
    track, track_many = engine.track, engine.track_many

    def spy(type, **fields):
        seen.append((type, fields))
        return track(type, **fields)

    def spy_many(batch, **kw):
        seen.extend((e["type"], {k: v for k, v in e.items() if k != "type"}) for e in batch)
        return track_many(batch, **kw)

    monkeypatch.setattr(engine, "track", spy)
    monkeypatch.setattr(engine, "track_many", spy_many)
    return seen


def token_of(html: str) -> str:
    return re.search(r'data-cr-token="([^"]+)"', html).group(1)


def set_cookie(client, key, value):
    # Werkzeug 2.3 dropped the test client's leading server_name argument (Flask 2.2 has it).
    if tuple(int(x) for x in importlib.metadata.version("werkzeug").split(".")[:2]) < (2, 3):
        client.set_cookie("localhost", key, value)
    else:
        client.set_cookie(key, value)


def walk_to_payment(client):
    client.post("/cart/add", data={"sku": "KITE-1"})
    client.post("/cart/add", data={"sku": "BOARD-2"})
    client.get("/checkout", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    set_cookie(client, "cr_tz", "Europe/Berlin")
    client.post("/checkout/contact", data={"email": "ann@example.com"},
                headers={"Accept-Language": "de-DE,de;q=0.9"})
    client.post("/checkout/shipping")
    client.post("/checkout/method")
    with client.session_transaction() as s:
        return s["cart_id"], s["_cr_visitor"]


def test_checkout_walked_step_by_step_produces_the_right_events(app, engine, events):
    client = app.test_client()
    cart_id, visitor = walk_to_payment(client)
    assert [(t, f.get("stage")) for t, f in events] == [
        ("cart_updated", None), ("cart_updated", None), ("checkout_stage", "contact"),
        ("contact_captured", None), ("checkout_stage", "shipping_address"),
        ("checkout_stage", "shipping_method"), ("checkout_stage", "payment")]
    assert all(f["visitor_id"] == visitor and f["cart_id"] == cart_id for _, f in events)
    assert events[3][1] == {"email": "ann@example.com", "visitor_id": visitor, "cart_id": cart_id,
                            "language": "de-DE", "timezone": "Europe/Berlin"}
    assert [i["sku"] for i in events[1][1]["items"]] == ["KITE-1", "BOARD-2"]
    cart = engine.cart(cart_id)
    assert cart["stage"] == "payment" and str(cart["value"]) == "268.99"

    assert client.post("/checkout/pay").status_code == 200
    assert events[-1][0] == "order_placed" and events[-1][1]["cart_id"] == cart_id
    assert engine.cart(cart_id)["state"] != "abandoned"
    engine.run_due(T0 + timedelta(days=5))
    assert [m for m in engine.messages(cart_id=cart_id) if m["status"] == "sent"] == []


def test_an_abandoned_checkout_gets_a_reminder(app, engine, clock):
    client = app.test_client()
    cart_id, _ = walk_to_payment(client)
    clock.advance(timedelta(hours=2))
    engine.run_due()
    [m] = engine.messages(cart_id=cart_id)
    assert m["status"] == "sent" and m["to"] == "ann@example.com"


def beacon(client, body, headers=ORIGIN, **kw):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/cr/b", data=data, headers=headers, content_type="text/plain;charset=UTF-8", **kw)


def test_beacon_stores_page_views_and_typed_contacts(app, engine, events, clock):
    client = app.test_client()
    client.post("/cart/add", data={"sku": "KITE-1"})
    html = client.get("/checkout").get_data(as_text=True)
    t = token_of(html)
    r = beacon(client, {"t": t, "events": [{"type": "page_view", "page_type": "checkout", "url": "http://localhost/checkout"},
                                          {"type": "contact", "email": "typed@example.com", "timezone": "Europe/Warsaw"}]},
               headers={**ORIGIN, "Accept-Language": "pl"})
    assert r.status_code == 204, r.data
    contact = events[-1]
    assert contact[0] == "contact_captured" and contact[1]["email"] == "typed@example.com"
    assert contact[1]["language"] == "pl" and contact[1]["timezone"] == "Europe/Warsaw"
    clock.advance(timedelta(hours=2))
    engine.run_due()
    with client.session_transaction() as s:
        assert [m["to"] for m in engine.messages(cart_id=s["cart_id"])] == ["typed@example.com"]


@pytest.mark.parametrize("case", ["forged", "other_visitor_secret", "cross_origin", "no_origin",
                                  "cross_site_fetch", "no_token"])
def test_forged_or_cross_origin_beacons_are_refused_and_store_nothing(app, engine, events, clock, case):
    client = app.test_client()
    client.post("/cart/add", data={"sku": "KITE-1"})
    good = token_of(client.get("/checkout").get_data(as_text=True))
    n = len(events)
    payload, tag = good.split(".")
    body = {"t": good, "events": [{"type": "contact", "email": "evil@example.com"}]}
    headers = dict(ORIGIN)
    if case == "forged":
        body["t"] = web.sign_visitor("not-the-shop-secret-123", "v_x", "c_victim")
    elif case == "other_visitor_secret":
        body["t"] = payload[:-2] + "AA." + tag
    elif case == "cross_origin":
        headers = {"Origin": "https://evil.example"}
    elif case == "no_origin":
        headers = {}
    elif case == "cross_site_fetch":
        headers = {"Sec-Fetch-Site": "cross-site"}
    elif case == "no_token":
        del body["t"]
    r = beacon(client, body, headers=headers)
    assert r.status_code == 403 and "error" in r.get_json()
    assert len(events) == n
    clock.advance(timedelta(hours=2))
    engine.run_due()
    assert all(m["to"] != "evil@example.com" for m in engine.messages())


@pytest.mark.parametrize("body,status,message", [
    (b"x" * 9000, 413, "larger than 8192"),
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b"", 400, "empty body"),
    (b"\xff\xfe", 400, "not valid JSON"),
    ("EVENTS_NOT_LIST", 400, "events"),
    ("BAD_EMAIL", 400, "email"),
    ("TOO_MANY", 413, "at most 20"),
])
def test_oversized_or_malformed_beacons_get_a_clear_4xx(app, events, body, status, message):
    client = app.test_client()
    t = token_of(client.get("/").get_data(as_text=True))
    n = len(events)
    if body == "EVENTS_NOT_LIST":
        body = json.dumps({"t": t, "events": {"type": "page_view"}})
    elif body == "BAD_EMAIL":
        body = json.dumps({"t": t, "events": [{"type": "page_view", "page_type": "home"},
                                             {"type": "contact", "email": "not-an-address"}]})
    elif body == "TOO_MANY":
        body = json.dumps({"t": t, "events": [{"type": "page_view"}] * 21})
    r = beacon(client, body)
    assert r.status_code == status, r.data
    assert message in r.get_json()["error"]
    # Only an invalid e-mail gets as far as the engine, whose track_many refuses the whole
    # batch (all or nothing); everything else is refused before the engine is asked.
    assert len(events) - n == (2 if message == "email" else 0)


def test_exit_intent_answers_the_engines_decision(tmp_path, clock):
    app = create_app(f"sqlite:///{tmp_path / 'x.db'}", CLOCK=clock, ENGINE_SETTINGS={
        "coupon_pools": [{"name": "exit10", "kind": "generated", "percent": 10, "prefix": "KITE",
                          "valid_for": "7d"}],
        "exit_intent": {"pool": "exit10", "incentive": {"share": 1.0}}})
    try:
        client = app.test_client()
        t = token_of(client.get("/").get_data(as_text=True))
        r = client.post("/cr/x", json={"t": t, "context": {"page_type": "home"}}, headers=ORIGIN)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
        d = r.get_json()
        assert (d["show"], d["kind"], d["coupon"]) == (True, "email_capture", None)
        shopper = app.test_client()  # a hot lead: at payment, with an e-mail
        walk_to_payment(shopper)
        t = token_of(shopper.get("/checkout").get_data(as_text=True))
        first = shopper.post("/cr/x", json={"t": t}, headers=ORIGIN).get_json()
        assert first["show"] is True and first["kind"] == "coupon" and first["coupon"]["code"].startswith("KITE")
        again = shopper.post("/cr/x", json={"t": t}, headers=ORIGIN).get_json()
        assert again["repeated"] is True and again["coupon"]["code"] == first["coupon"]["code"]
        assert shopper.post("/cr/x", json={"t": t}, headers={"Origin": "https://evil.example"}).status_code == 403
    finally:
        app.extensions["cartrecovery"].holder.close()


def test_script_is_served_and_the_tag_carries_the_csp_nonce(app):
    from flask import g, render_template_string

    @app.get("/nonce")
    def with_nonce():
        g.csp_nonce = "abc123"
        return render_template_string("{{ cartrecovery_script('home') }}")

    client = app.test_client()
    r = client.get("/cr/cartrecovery.js")
    assert r.status_code == 200 and r.content_type.startswith("text/javascript")
    assert b"sendBeacon" in r.data
    assert client.get("/cr/cartrecovery.js", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    html = client.get("/nonce").get_data(as_text=True)
    assert 'nonce="abc123"' in html and 'src="/cr/cartrecovery.js"' in html and 'data-cr-endpoint="/cr/"' in html


def test_init_app_opens_no_engine(tmp_path):
    app = create_app(f"sqlite:///{tmp_path / 'lazy.db'}")
    assert not app.extensions["cartrecovery"].holder.opened
    assert not (tmp_path / "lazy.db").exists()


def test_missing_secret_is_logged_at_init(tmp_path, caplog):
    from flask import Flask

    from cartrecovery.flask import CartRecovery
    app = Flask("bare")
    CartRecovery(app)
    assert "SECRET is not set" in caplog.text and "BASE_URL is not set" in caplog.text


def reminder_links(engine, cart_id):
    [m] = [m for m in engine.messages(cart_id=cart_id) if m["status"] == "sent"]
    return dict(re.findall(r"http://localhost/cr/([ocru])/([A-Za-z0-9_-]+)", m["text"] + (m.get("html") or "")))


def test_restore_link_rebuilds_the_session_cart(app, engine, clock):
    shopper = app.test_client()
    cart_id, _ = walk_to_payment(shopper)
    clock.advance(timedelta(hours=2))
    engine.run_due()
    links = reminder_links(engine, cart_id)
    other_device = app.test_client()
    r = other_device.get(f"/cr/r/{links['r']}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/cart")
    page = other_device.get("/cart").get_data(as_text=True)
    assert "1 x Kite Pro 9m" in page and "1 x Twin-Tip Board" in page
    with other_device.session_transaction() as s:
        assert s["_cr_cart"] == cart_id
    assert other_device.get("/cr/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").status_code in (400, 410)


def test_unsubscribe_works_by_post_without_a_login(app, engine, clock):
    client = app.test_client()
    cart_id, _ = walk_to_payment(client)
    clock.advance(timedelta(hours=2))
    engine.run_due()
    links = reminder_links(engine, cart_id)
    stranger = app.test_client()
    page = stranger.get(f"/cr/u/{links['u']}")
    assert page.status_code == 200 and b"<form" in page.data
    r = stranger.post(f"/cr/u/{links['u']}", data="List-Unsubscribe=One-Click",
                      content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200
    clock.advance(timedelta(days=3))
    engine.run_due()
    assert b"unsubscribed" in r.data
    assert [m["status"] for m in engine.messages(cart_id=cart_id) if m["status"] == "sent"] == ["sent"]


def test_open_pixel_and_click_redirect(app, engine, clock):
    client = app.test_client()
    cart_id, _ = walk_to_payment(client)
    clock.advance(timedelta(hours=2))
    engine.run_due()
    m = engine.messages(cart_id=cart_id)[0]
    links = reminder_links(engine, cart_id)
    if "o" in links:
        r = client.get(f"/cr/o/{links['o']}.gif")
        assert r.status_code == 200 and r.content_type == "image/gif"
    assert client.get("/cr/o/garbage.gif").status_code == 200  # the pixel answers regardless
    if "c" in links:
        r = client.get(f"/cr/c/{links['c']}")
        assert r.status_code == 302 and r.headers["Location"].startswith("http")
    r = client.get("/cr/c/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert r.status_code in (400, 410) and "Location" not in r.headers
    assert client.post(f"/cr/c/{links.get('c', 'AAAA')}").status_code == 405
    assert m["message_id"]


def test_commands(app, engine, tmp_path):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["cartrecovery", "report"])
    assert r.exit_code == 0 and "nothing yet" in r.output, r.output
    # Under app.testing the test reminder is recorded, not sent (see record_messages).
    r = runner.invoke(args=["cartrecovery", "send-test", "--to", "ann@example.com"])
    assert r.exit_code == 0 and "sent the first reminder as a test to ann@example.com" in r.output, r.output
    csv = tmp_path / "codes.csv"
    csv.write_text("code\nSAVE10\n")
    r = runner.invoke(args=["cartrecovery", "import-coupons", "--pool", "exit", "--csv", str(csv)])
    assert r.exit_code == 1 and "no coupon pool named 'exit'" in r.output
    help_text = runner.invoke(args=["cartrecovery", "--help"]).output
    for name in ("status", "worker", "report", "send-test", "import-coupons", "replay", "export-events"):
        assert name in help_text


def test_import_coupons_command_fills_a_pool_and_names_bad_rows(tmp_path, clock):
    app = create_app(f"sqlite:///{tmp_path / 'pool.db'}", CLOCK=clock, ENGINE_SETTINGS={
        "coupon_pools": [{"name": "exit", "kind": "imported", "percent": 10}]})
    try:
        csv = tmp_path / "codes.csv"
        csv.write_text("code\nSAVE10\nSAVE10\nBAD*CODE\nMORE77\n")
        r = app.test_cli_runner().invoke(args=["cartrecovery", "import-coupons", "--pool", "exit",
                                               "--csv", str(csv)])
        assert r.exit_code == 0, r.output
        assert "imported 2 codes into exit" in r.output and "1 repeated" in r.output
        assert "line 4: invalid_characters" in r.output
        with app.app_context():
            assert app.extensions["cartrecovery"].holder.get().free_coupons("exit") == 2
    finally:
        app.extensions["cartrecovery"].holder.close()


def test_status_exits_2_until_a_worker_ran_and_worker_once_runs_what_is_due(app, engine, clock):
    cart_id, _ = walk_to_payment(app.test_client())
    engine.flush()  # status reads the store as committed
    clock.advance(timedelta(hours=2))
    runner = app.test_cli_runner()
    r = runner.invoke(args=["cartrecovery", "status"])
    assert r.exit_code == 2 and "PROBLEM" in r.output, r.output
    r = runner.invoke(args=["cartrecovery", "worker", "--once"])
    assert r.exit_code == 0 and "ran " in r.output, r.output
    assert [m["status"] for m in engine.messages(cart_id=cart_id)] == ["sent"]
    assert runner.invoke(args=["cartrecovery", "status"]).exit_code == 0


def test_under_testing_nothing_is_sent_and_record_messages_keeps_it(tmp_path, clock):
    sent_for_real = []
    channels = lambda: {"email": cr.CallbackChannel(sent_for_real.append)}  # noqa: E731 (the "SMTP server")
    app = create_app(f"sqlite:///{tmp_path / 'rec.db'}", CLOCK=clock, CHANNELS=channels)
    app.testing = True
    recovery = app.extensions["test_recovery"]
    try:
        cart_id, _ = walk_to_payment(app.test_client())
        clock.advance(timedelta(hours=2))
        with app.app_context():
            engine = app.extensions["cartrecovery"].holder.get()
        with recovery.record_messages() as outbox:
            engine.run_due()
        assert sent_for_real == []
        assert [(m["to"], m["message_id"]) for m in outbox] == [
            (m["to"], m["message_id"]) for m in engine.messages(cart_id=cart_id)]
        assert outbox[0]["to"] == "ann@example.com" and "Kite Pro 9m" in outbox[0]["text"]
        with app.app_context():
            from cartrecovery.flask import record_messages
            with record_messages() as outbox2:
                r = app.test_cli_runner().invoke(args=["cartrecovery", "send-test", "--to", "me@kite.example"])
        assert r.exit_code == 0, r.output
        assert [m["to"] for m in outbox2] == ["me@kite.example"] and sent_for_real == []
    finally:
        app.extensions["cartrecovery"].holder.close()


def test_outside_testing_the_configured_channel_sends(tmp_path, clock):
    sent_for_real = []
    app = create_app(f"sqlite:///{tmp_path / 'real.db'}", CLOCK=clock,
                     CHANNELS=lambda: {"email": cr.CallbackChannel(sent_for_real.append)})
    try:
        cart_id, _ = walk_to_payment(app.test_client())
        clock.advance(timedelta(hours=2))
        with app.app_context():
            app.extensions["cartrecovery"].holder.get().run_due()
        assert [m["to"] for m in sent_for_real] == ["ann@example.com"]
        r = app.test_cli_runner().invoke(args=["cartrecovery", "send-test", "--to", "me@kite.example",
                                               "--language", "de"])
        assert r.exit_code == 0, r.output
        assert sent_for_real[-1]["to"] == "me@kite.example" and sent_for_real[-1]["subject"].startswith("[TEST] ")
        assert "Sample product" in sent_for_real[-1]["text"]
    finally:
        app.extensions["cartrecovery"].holder.close()


def test_send_test_without_a_channel_says_so(tmp_path):
    app = create_app(f"sqlite:///{tmp_path / 'none.db'}", SUPPRESS_SEND=False)
    try:
        r = app.test_cli_runner().invoke(args=["cartrecovery", "send-test", "--to", "me@kite.example"])
        assert r.exit_code == 1 and "no 'email' channel to send through" in r.output
    finally:
        app.extensions["cartrecovery"].holder.close()


def test_the_cart_is_ordered_hook_is_asked_before_a_reminder(tmp_path, clock):
    # A bank transfer the engine never heard of: the shop's own order table says "ordered".
    ordered = set()
    app = create_app(f"sqlite:///{tmp_path / 'hook.db'}", CLOCK=clock,
                     CART_IS_ORDERED=lambda cart_id: cart_id in ordered)
    try:
        with app.app_context():
            engine = app.extensions["cartrecovery"].holder.get()
        shopper = app.test_client()
        cart_id, _ = walk_to_payment(shopper)
        ordered.add(cart_id)
        clock.advance(timedelta(hours=2))
        engine.run_due()
        assert [m for m in engine.messages(cart_id) if m["status"] == "sent"] == []
        assert engine.cart(cart_id)["journey"]["end_reason"] == "ordered"
    finally:
        app.extensions["cartrecovery"].holder.close()


def test_track_event_inside_a_request_carries_the_visitor(app, engine, events):
    client = app.test_client()
    client.post("/cart/add", data={"sku": "KITE-1"})
    client.post("/cart/empty")
    with client.session_transaction() as s:
        cart_id, visitor = s["cart_id"], s["_cr_visitor"]
    assert events[-1] == ("cart_updated", {"cart_id": cart_id, "items": [], "currency": "EUR", "visitor_id": visitor})
    assert engine.cart(cart_id)["state"] == "emptied"


def test_track_event_outside_a_request_takes_the_arguments(app, engine, events):
    from cartrecovery.flask import track_event

    with app.app_context():
        assert track_event("contact_captured", cart_id="c-task", email="ann@example.com", language="pl",
                           visitor_id="v-task")
        with pytest.raises(cr.ValidationError):
            track_event("contact_captured", cart_id="c-task", email="ann@localhost")
    assert events[0] == ("contact_captured", {"cart_id": "c-task", "email": "ann@example.com",
                                              "visitor_id": "v-task", "language": "pl"})


def test_before_consent_nothing_is_stored_and_the_session_stays_untouched(tmp_path, clock):
    from flask_testshop import consent_cookie

    app = create_app(f"sqlite:///{tmp_path / 'c.db'}", CLOCK=clock, TRACKING_CONSENT=consent_cookie)
    try:
        client = app.test_client()
        assert "data-cr-token" not in client.get("/").get_data(as_text=True)
        client.post("/cart/add", data={"sku": "KITE-1"})
        client.get("/checkout")
        client.post("/checkout/contact", data={"email": "ann@example.com"})
        with client.session_transaction() as s:
            assert "_cr_visitor" not in s and "_cr_cart" not in s and s["cart_id"]
        t = web.sign_visitor("test-secret-0123456789", "v1", None)
        r = beacon(client, {"t": t, "events": [{"type": "contact", "email": "ann@example.com"}]})
        assert r.status_code == 403 and "consent" in r.get_json()["error"]
        assert client.post("/cr/x", json={"t": t}, headers=ORIGIN).status_code == 403
        client.post("/checkout/pay")
        with app.app_context():
            engine = app.extensions["cartrecovery"].holder.get()
        engine.flush()
        assert [(e["type"], e.get("visitor_id")) for e in engine.events()] == [("order_placed", None)]
        set_cookie(client, "consent", "yes")
        assert "data-cr-token" in client.get("/").get_data(as_text=True)
        cart_id, _ = walk_to_payment(client)
        assert engine.cart(cart_id)["stage"] == "payment"
    finally:
        app.extensions["cartrecovery"].holder.close()


def test_export_and_forget_commands(app, engine):
    engine.track("cart_updated", cart_id="c9", visitor_id="v9", currency="EUR",
                 items=[{"sku": "K", "name": "Kite", "price": "10", "quantity": 1}])
    engine.track("contact_captured", cart_id="c9", email="erin@example.com", first_name="Erin")
    engine.flush()
    runner = app.test_cli_runner()
    r = runner.invoke(args=["cartrecovery", "export", "--email", "erin@example.com"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["contacts"][0]["first_name"] == "Erin"
    r = runner.invoke(args=["cartrecovery", "forget", "--email", "erin@example.com"])
    assert r.exit_code == 0 and "contacts 1" in r.output, r.output
    assert engine.export(email="erin@example.com")["contacts"] == []
