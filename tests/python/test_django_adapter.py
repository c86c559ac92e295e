"""The Django app, through Django's test client: checkout events, beacons and their
refusals, tracking links, the template tag, the system check, commands, anymail tracking,
and one engine per process across forked workers."""
from __future__ import annotations

import io
import json
import os
import re
import warnings
from datetime import timedelta
from types import SimpleNamespace

import pytest

django = pytest.importorskip("django")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

import cartrecovery as cr  # noqa: E402
import cartrecovery.django as crd  # noqa: E402
from cartrecovery import web  # noqa: E402
from cartrecovery.django import anymail, checks  # noqa: E402
from conftest import T0  # noqa: E402


def fork() -> int:
    # Python 3.12+ warns when a process with threads forks; that is the situation under test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()

ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def clock():
    return cr.ManualClock(T0)


@pytest.fixture
def engine(tmp_path, clock):
    with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "STORE": f"sqlite:///{tmp_path / 'dj.db'}",
                                         "CLOCK": clock}):
        yield crd.engine()
    crd.reset()


def token_of(html: str) -> str:
    return re.search(r'data-cr-token="([^"]+)"', html).group(1)


def walk_to_payment(client):
    client.post("/cart/add/", {"sku": "KITE-1"})
    client.post("/cart/add/", {"sku": "BOARD-2"})
    client.get("/checkout/")
    client.cookies["cr_tz"] = "Europe/Warsaw"
    client.post("/checkout/contact/", {"email": "ann@example.com"}, headers={"Accept-Language": "pl-PL,pl;q=0.9"})
    client.post("/checkout/shipping/")
    client.post("/checkout/method/")
    return client.session["cart_id"], client.session["_cr_visitor"]


def test_checkout_walked_step_by_step_produces_the_right_events(engine, monkeypatch):
    seen = []
    real = engine.track
    monkeypatch.setattr(engine, "track", lambda type, **f: seen.append((type, f)) or real(type, **f))
    client = Client()
    cart_id, visitor = walk_to_payment(client)
    assert [(t, f.get("stage")) for t, f in seen] == [
        ("cart_updated", None), ("cart_updated", None), ("checkout_stage", "contact"),
        ("contact_captured", None), ("checkout_stage", "shipping_address"),
        ("checkout_stage", "shipping_method"), ("checkout_stage", "payment")]
    assert all(f["cart_id"] == cart_id and f["visitor_id"] == visitor for _, f in seen)
    assert seen[3][1]["language"] == "pl-PL" and seen[3][1]["timezone"] == "Europe/Warsaw"
    assert engine.cart(cart_id)["stage"] == "payment"
    assert client.post("/checkout/pay/").status_code == 200
    assert seen[-1][0] == "order_placed" and seen[-1][1]["cart_id"] == cart_id
    engine.run_due(T0 + timedelta(days=5))
    assert [m for m in engine.messages(cart_id=cart_id) if m["status"] == "sent"] == []


def test_beacon_and_its_refusals(engine, clock):
    client = Client()
    client.post("/cart/add/", {"sku": "KITE-1"})
    t = token_of(client.get("/checkout/").content.decode())
    ok = json.dumps({"t": t, "events": [{"type": "contact", "email": "typed@example.com"}]})
    evil = json.dumps({"t": t, "events": [{"type": "contact", "email": "evil@example.com"}]})
    post = lambda body, **h: client.post("/cr/b", body, content_type="text/plain", headers=h)  # noqa: E731
    assert post(evil, Origin="https://evil.example").status_code == 403
    assert post(evil).status_code == 403  # no Origin, no Referer
    forged = web.sign_visitor("someone-elses-secret-123", "v_x", client.session["cart_id"])
    assert post(json.dumps({"t": forged, "events": [{"type": "contact", "email": "evil@example.com"}]}),
                **ORIGIN).status_code == 403
    r = post("x" * 10000, **ORIGIN)
    assert r.status_code == 413 and "larger than" in r.json()["error"]
    r = post("{oops", **ORIGIN)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    assert client.get("/cr/b").status_code == 405
    assert post(ok, **ORIGIN).status_code == 204
    clock.advance(timedelta(hours=2))
    engine.run_due()
    assert [m["to"] for m in engine.messages(cart_id=client.session["cart_id"])] == ["typed@example.com"]


EXIT_OFFERS = {"coupon_pools": [{"name": "exit10", "kind": "generated", "percent": 10, "prefix": "KITE",
                                  "valid_for": "7d"}],
               "exit_intent": {"pool": "exit10", "incentive": {"share": 1.0}}}


@pytest.fixture
def offering_engine(tmp_path, clock):
    with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "STORE": f"sqlite:///{tmp_path / 'x.db'}",
                                         "CLOCK": clock, "ENGINE_SETTINGS": EXIT_OFFERS}):
        yield crd.engine()
    crd.reset()


def test_exit_intent_answers_the_engines_decision(offering_engine):
    client = Client()
    # A visitor without a cart or contact: asked for an e-mail, no coupon.
    t = token_of(client.get("/").content.decode())
    r = client.post("/cr/x", {"t": t}, content_type="application/json", headers=ORIGIN)
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    assert {k: r.json()[k] for k in ("show", "kind", "coupon")} == {"show": True, "kind": "email_capture",
                                                                     "coupon": None}
    # A hot lead at payment: the coupon the engine drew, the same one when asked again.
    client = Client()  # another shopper, at payment with an e-mail
    cart_id, visitor = walk_to_payment(client)
    t = token_of(client.get("/checkout/").content.decode())
    first = client.post("/cr/x", {"t": t, "context": {"page_type": "checkout"}},
                        content_type="application/json", headers=ORIGIN).json()
    assert first["show"] is True and first["kind"] == "coupon" and first["coupon"]["code"].startswith("KITE")
    assert first == {**offering_engine.exit_intent(visitor_id=visitor, cart_id=cart_id),
                     "coupon": first["coupon"], "repeated": False}
    again = client.post("/cr/x", {"t": t}, content_type="application/json", headers=ORIGIN).json()
    assert again["repeated"] is True and again["coupon"]["code"] == first["coupon"]["code"]
    # Refused before the engine is asked.
    assert client.post("/cr/x", {"t": t}, content_type="application/json",
                       headers={"Origin": "https://evil.example"}).status_code == 403
    r = client.post("/cr/x", {"t": t, "context": "x" * 3000}, content_type="application/json", headers=ORIGIN)
    assert r.status_code == 400 and "context" in r.json()["error"]


def test_script_is_served_with_an_etag(engine):
    client = Client()
    r = client.get("/cr/cartrecovery.js")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/javascript") and r["ETag"]
    assert client.get("/cr/cartrecovery.js", headers={"If-None-Match": r["ETag"]}).status_code == 304


def test_template_tag_carries_the_csp_nonce(engine):
    from django.template import engines
    from django.test import RequestFactory
    request = RequestFactory().get("/")
    request.session = {}
    request.csp_nonce = "n0nce"
    html = engines["django"].from_string("{% load cartrecovery %}{% cartrecovery_script 'home' %}").render({}, request)
    assert 'nonce="n0nce"' in html and 'src="/cr/cartrecovery.js"' in html and 'data-cr-endpoint="/cr/"' in html


def reminder_links(engine, cart_id):
    [m] = [m for m in engine.messages(cart_id=cart_id) if m["status"] == "sent"]
    return dict(re.findall(r"http://testserver/cr/([ocru])/([A-Za-z0-9_-]+)", m["text"]))


def test_restore_cart_rebuilds_the_session_cart(engine, clock):
    cart_id, _ = walk_to_payment(Client())
    clock.advance(timedelta(hours=2))
    engine.run_due()
    links = reminder_links(engine, cart_id)
    phone = Client()
    r = phone.get(f"/cr/r/{links['r']}")
    assert r.status_code == 302 and r["Location"] == "/cart/"
    page = phone.get("/cart/").content.decode()
    assert "1 x Kite Pro 9m" in page and "1 x Twin-Tip Board" in page
    assert phone.session["_cr_cart"] == cart_id and "_auth_user_id" not in phone.session
    assert phone.get("/cr/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").status_code in (400, 410)


def test_unsubscribe_by_post_without_a_login_and_without_csrf(engine, clock):
    cart_id, _ = walk_to_payment(Client())
    clock.advance(timedelta(hours=2))
    engine.run_due()
    links = reminder_links(engine, cart_id)
    mail_client = Client(enforce_csrf_checks=True)
    assert b"<form" in mail_client.get(f"/cr/u/{links['u']}").content
    r = mail_client.post(f"/cr/u/{links['u']}", "List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200
    clock.advance(timedelta(days=4))
    engine.run_due()
    assert [m["status"] for m in engine.messages(cart_id=cart_id) if m["status"] == "sent"] == ["sent"]
    assert mail_client.post(f"/cr/r/{links['r']}").status_code == 405


def test_system_check_reports_missing_secret_and_base_url():
    with override_settings(CARTRECOVERY={"STORE": "sqlite:///:memory:"}):
        ids = sorted(e.id for e in checks.cartrecovery_settings(environ=None))
    assert ids == ["cartrecovery.E001", "cartrecovery.E002"]
    assert checks.cartrecovery_settings() == []


def test_app_ready_opened_no_engine():
    crd.reset()
    assert crd._holder is None


def test_commands(engine, tmp_path):
    out = io.StringIO()
    call_command("cartrecovery", "report", stdout=out)
    assert "nothing yet" in out.getvalue()
    with pytest.raises(CommandError, match="no 'email' channel to send through"):
        call_command("cartrecovery", "send-test", "--to", "ann@example.com")
    csv = tmp_path / "codes.csv"
    csv.write_text("code\nSAVE10\n")
    with pytest.raises(CommandError, match="no coupon pool named 'exit'"):
        call_command("cartrecovery", "import-coupons", "--pool", "exit", "--csv", str(csv))
    with pytest.raises(CommandError, match="--csv: no file at"):
        call_command("cartrecovery", "import-coupons", "--pool", "exit", "--csv", str(tmp_path / "none.csv"))


def test_import_coupons_command_fills_a_pool_and_names_bad_rows(tmp_path, clock):
    pools = {"coupon_pools": [{"name": "exit", "kind": "imported", "percent": 10}]}
    csv = tmp_path / "codes.csv"
    csv.write_text("id,code\n1,SAVE10\n2,SAVE10\n3,BAD*CODE\n4,MORE77\n")
    with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "STORE": f"sqlite:///{tmp_path / 'pool.db'}",
                                         "CLOCK": clock, "ENGINE_SETTINGS": pools}):
        try:
            out, err = io.StringIO(), io.StringIO()
            # The snake_case name Django users type works as well as the CLI's.
            call_command("cartrecovery", "import_coupons", "--pool", "exit", "--csv", str(csv),
                         "--column", "code", stdout=out, stderr=err)
            assert "imported 2 codes into exit" in out.getvalue() and "1 repeated" in out.getvalue()
            assert "line 4: invalid_characters" in out.getvalue()
            assert crd.engine().free_coupons("exit") == 2
        finally:
            crd.reset()


def test_worker_once_and_status_commands(engine, clock):
    cart_id, _ = walk_to_payment(Client())
    clock.advance(timedelta(hours=2))
    out = io.StringIO()
    call_command("cartrecovery", "worker", "--once", stdout=out)
    assert "ran " in out.getvalue()
    assert [m["status"] for m in engine.messages(cart_id=cart_id)] == ["sent"]
    out = io.StringIO()
    engine.flush()
    call_command("cartrecovery", "status", "--json", stdout=out)
    assert json.loads(out.getvalue())["messages_sent"] == 1


def test_send_test_sends_the_real_first_reminder_through_djangos_mail_backend(engine):
    with override_settings(CARTRECOVERY={**settings.CARTRECOVERY,
                                         "CHANNELS": lambda: {"email": anymail.django_mail_channel("shop@kite.example")}}):
        out = io.StringIO()
        call_command("cartrecovery", "send-test", "--to", "ann@example.com", "--language", "de", stdout=out)
        assert "sent the first reminder as a test to ann@example.com" in out.getvalue()
        assert crd.engine().messages() == []  # nothing stored
    [sent] = mail.outbox
    assert sent.to == ["ann@example.com"] and sent.subject.startswith("[TEST] ")
    assert "Sample product" in sent.body and "Hallo" in sent.body  # the German first reminder
    assert set(sent.metadata) == {"cartrecovery_message_id"}


def test_a_bad_setting_is_improperly_configured():
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "SECRT": "typo"}):
        with pytest.raises(ImproperlyConfigured, match="SECRT"):
            crd.config()
        with pytest.raises(cr.ConfigError):
            crd.engine()
    with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "FLOWS": [{"name": "x", "paths": "nope"}]}):
        with pytest.raises(ImproperlyConfigured) as e:
            crd.engine()
        assert isinstance(e.value, cr.ConfigError) and e.value.field
    with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "CART_IS_ORDERED": "shop.nowhere.hook"}):
        with pytest.raises(ImproperlyConfigured, match="CART_IS_ORDERED"):
            crd.engine()
    crd.reset()


def test_track_anymail_off_by_environment(monkeypatch):
    monkeypatch.setenv("CARTRECOVERY_TRACK_ANYMAIL", "0")
    crd.reset()
    try:
        assert crd.get_setting("TRACK_ANYMAIL") is False
        assert anymail.connect() is False
    finally:
        crd.reset()


def test_anymail_tracking_feeds_opens_and_clicks_once_per_event_id(engine, clock):
    cart_id, _ = walk_to_payment(Client())
    clock.advance(timedelta(hours=2))
    engine.run_due()
    [m] = engine.messages(cart_id=cart_id)
    meta = {"cartrecovery_message_id": m["message_id"]}
    opened = SimpleNamespace(event_type="opened", event_id="ev-1", metadata=meta)
    assert anymail.on_tracking(event=opened) == "opened"
    assert anymail.on_tracking(event=opened) == "duplicate"  # the provider retried
    clicked = SimpleNamespace(event_type="clicked", event_id="ev-2", metadata=meta,
                              click_url="https://kite.example/cart")
    assert anymail.on_tracking(event=clicked) == "clicked"
    assert anymail.on_tracking(event=SimpleNamespace(event_type="opened", event_id="x", metadata={})) is None
    engine.flush()
    [m] = engine.messages(cart_id=cart_id)
    assert m["opened_at"] is not None and m["clicked_at"] is not None


def test_anymail_bounces_reach_the_engine_and_suppress_the_address(engine, clock):
    cart_id, _ = walk_to_payment(Client())
    clock.advance(timedelta(hours=2))
    engine.run_due()
    [m] = engine.messages(cart_id=cart_id)
    bounced = SimpleNamespace(event_type="bounced", event_id="ev-b", description="550 5.1.1 no such user",
                              metadata={"cartrecovery_message_id": m["message_id"]})
    assert anymail.on_tracking(event=bounced) == "bounced"
    engine.flush()
    [m] = engine.messages(cart_id=cart_id)
    assert m["status"] == "bounced" and "no such user" in m["reason"]


def test_each_forked_worker_opens_its_own_engine(engine, tmp_path):
    """What gunicorn --preload does: the master imported the app (and here even used the
    engine); each forked worker must open its own and its events must reach the store."""
    client = Client()
    client.post("/cart/add/", {"sku": "KITE-1"})
    t = token_of(client.get("/").content.decode())
    parent = crd.engine()
    pids = []
    for n in range(2):
        pid = fork()
        if pid == 0:
            code = 1
            try:
                c = Client()
                r = c.post("/cr/b", json.dumps({"t": t, "events": [{"type": "page_view", "page_type": "product"}]}),
                           content_type="text/plain", headers=ORIGIN)
                code = 0 if r.status_code == 204 and crd.engine() is not parent else 2
                crd.engine().close()  # flush this worker's events
            finally:
                os._exit(code)
        pids.append(pid)
    assert [os.waitpid(p, 0)[1] for p in pids] == [0, 0]
    assert crd.engine() is parent


def test_track_event_in_a_signal_receiver_carries_the_requests_visitor_and_language(engine, monkeypatch):
    seen = []
    real = engine.track
    monkeypatch.setattr(engine, "track", lambda type, **f: seen.append((type, f)) or real(type, **f))
    client = Client()
    client.post("/cart/add/", {"sku": "KITE-1"})
    visitor = client.session["_cr_visitor"]
    client.post("/cart/empty/", headers={"Accept-Language": "de-DE"})
    assert seen[-1] == ("cart_updated", {"cart_id": client.session["cart_id"], "items": [], "currency": "EUR",
                                         "visitor_id": visitor})
    assert engine.cart(client.session["cart_id"])["state"] == "emptied"
    from cartrecovery.django.middleware import current_request
    assert current_request() is None  # cleared when the response was made


def test_track_event_without_a_request_takes_the_visitor_and_language_from_its_arguments(engine):
    assert crd.track_event("cart_updated", cart_id="c-task", visitor_id="v-task", currency="EUR",
                           items=[{"sku": "K", "name": "Kite", "price": "10", "quantity": 1}])
    assert crd.track_event("contact_captured", cart_id="c-task", email="ann@example.com", language="pl",
                           timezone="Europe/Warsaw")
    with pytest.raises(cr.ValidationError) as e:  # Django's EmailField takes it; the engine does not
        crd.track_event("contact_captured", cart_id="c-task", email="ann@localhost")
    assert e.value.field == "email"
    engine.flush()
    events = [(e["type"], e.get("visitor_id"), e.get("language"), e.get("timezone")) for e in engine.events()]
    assert events == [("cart_updated", "v-task", None, None),
                      ("contact_captured", None, "pl", "Europe/Warsaw")]


@pytest.fixture
def consent_engine(tmp_path, clock):
    with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "STORE": f"sqlite:///{tmp_path / 'c.db'}",
                                         "CLOCK": clock, "TRACKING_CONSENT": "django_project.shop.consent_cookie"}):
        yield crd.engine()
    crd.reset()


def test_before_consent_nothing_is_stored_and_no_session_is_made(consent_engine, clock):
    client = Client()
    page = client.get("/")
    assert "data-cr-token" not in page.content.decode() and "sessionid" not in page.cookies
    client.post("/cart/add/", {"sku": "KITE-1"})
    cart_id = client.session["cart_id"]  # the shop's own session, not ours
    assert "_cr_visitor" not in client.session and consent_engine.cart(cart_id) is None
    beacon = json.dumps({"t": web.sign_visitor(settings.CARTRECOVERY["SECRET"], "v1", cart_id),
                         "events": [{"type": "contact", "email": "ann@example.com"}]})
    r = client.post("/cr/b", beacon, content_type="text/plain", headers=ORIGIN)
    assert r.status_code == 403 and "consent" in r.json()["error"]
    assert client.post("/cr/x", beacon, content_type="text/plain", headers=ORIGIN).status_code == 403
    client.post("/checkout/contact/", {"email": "ann@example.com"})
    # An order is kept all the same (it only stops messages), without the visitor.
    client.post("/checkout/pay/")
    consent_engine.flush()
    assert [(e["type"], e.get("visitor_id")) for e in consent_engine.events()] == [("order_placed", None)]
    clock.advance(timedelta(hours=2))
    consent_engine.run_due()
    assert consent_engine.messages() == []


def test_after_consent_the_visitor_is_tracked(consent_engine, clock):
    client = Client()
    client.cookies["consent"] = "yes"
    assert "data-cr-token" in client.get("/").content.decode()
    cart_id, visitor = walk_to_payment(client)
    assert consent_engine.cart(cart_id)["stage"] == "payment"
    clock.advance(timedelta(hours=2))
    consent_engine.run_due()
    assert [m["to"] for m in consent_engine.messages(cart_id=cart_id)] == ["ann@example.com"]


def test_export_and_forget_commands(engine):
    engine.track("cart_updated", cart_id="c9", visitor_id="v9", currency="EUR",
                 items=[{"sku": "K", "name": "Kite", "price": "10", "quantity": 1}])
    engine.track("contact_captured", cart_id="c9", email="erin@example.com", first_name="Erin")
    engine.flush()
    out = io.StringIO()
    call_command("cartrecovery", "export", "--email", "erin@example.com", stdout=out)
    assert json.loads(out.getvalue())["contacts"][0]["first_name"] == "Erin"
    out = io.StringIO()
    call_command("cartrecovery", "forget", "--email", "erin@example.com", stdout=out)
    assert "contacts 1" in out.getvalue() and "erin" not in out.getvalue()
    assert engine.export(email="erin@example.com")["contacts"] == []
