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


def test_exit_intent_and_script(engine):
    client = Client()
    t = token_of(client.get("/").content.decode())
    r = client.post("/cr/x", {"t": t}, content_type="application/json", headers=ORIGIN)
    assert r.status_code == 200
    if not hasattr(engine, "exit_intent"):
        assert r.json() == web.NO_OFFERS
    r = client.get("/cr/cartrecovery.js")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/javascript") and r["ETag"]


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
    with pytest.raises(CommandError, match="CHANNELS has no 'email' channel"):
        call_command("cartrecovery", "send_test", "--to", "ann@example.com")
    csv = tmp_path / "codes.csv"
    csv.write_text("code\nSAVE10\n")
    if not hasattr(engine, "import_coupons"):
        with pytest.raises(CommandError, match="not available"):
            call_command("cartrecovery", "import_coupons", "exit", str(csv))


def test_send_test_through_djangos_mail_backend(engine):
    with override_settings(CARTRECOVERY={**settings.CARTRECOVERY,
                                         "CHANNELS": lambda: {"email": anymail.django_mail_channel("shop@kite.example")}}):
        call_command("cartrecovery", "send_test", "--to", "ann@example.com", stdout=io.StringIO())
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert mail.outbox[0].metadata == {"cartrecovery_message_id": "test"}


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
    with pytest.raises(CommandError, match="ValidationError"):
        call_command("cartrecovery", "forget", stdout=io.StringIO())


def test_worker_command_puts_the_signal_handlers_back(engine, monkeypatch):
    import signal

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(web, "run_worker", lambda *a: None)
    call_command("cartrecovery", "worker")
    assert {sig: signal.getsignal(sig) for sig in before} == before
