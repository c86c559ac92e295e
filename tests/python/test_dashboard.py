"""The staff dashboard in both adapters, through their real test clients: who may see it,
what it shows (every flow, why a flow waits, the worker's health, the report), and its
pause/resume forms with their CSRF protection. Each test runs against the Flask extension
and the Django app alike (``site`` is either)."""
from __future__ import annotations

import os
import re
from datetime import timedelta
from html import escape

import pytest

import cartrecovery as cr
from cartrecovery import dashboard, web
from conftest import BOARD, HOUR, KITE, T0, add_cart, sent

# Two flows: carts worth 200 or more get a coupon from a pool that starts empty, so their
# flow waits (R4.3); every other cart goes through the default flow.
WITH_COUPON = cr.Flow("big-carts", abandon_after="1h", enter_when={"min_value": "200"},
                      paths=[cr.Path("everyone", steps=[cr.Step(after="1h", channels=["email"], coupon="csv")])])
FLOWS = [WITH_COUPON, cr.default_flow()]
POOLS = {"coupon_pools": [{"name": "csv", "kind": "imported", "percent": 15}]}


class Reply:
    def __init__(self, status: int, text: str, headers):
        self.status, self.text, self.headers = status, text, headers
        self.location = headers.get("Location")

    def field(self, name: str) -> str:
        """The value of a hidden input on the page (the CSRF token)."""
        return re.search(rf'name="{name}" value="([^"]+)"', self.text).group(1)


class FlaskSite:
    url = "/cr/dashboard"
    csrf_name = "csrf_token"
    origin = "http://localhost"

    def __init__(self, tmp_path, clock, **overrides):
        pytest.importorskip("flask")
        from flask_testshop import create_app, staff_only

        overrides.setdefault("DASHBOARD_AUTH", staff_only)
        self.app = create_app(f"sqlite:///{tmp_path / 'flask.db'}", CLOCK=clock, FLOWS=FLOWS,
                              ENGINE_SETTINGS=POOLS, **overrides)
        self.app.testing = True
        self.client = self.app.test_client()
        self.engine = self.app.extensions["cartrecovery"].holder.get()

    def log_in(self, user: str) -> None:
        assert self.client.post("/login", data={"user": user}).status_code == 302

    def get(self, query: str = "") -> Reply:
        r = self.client.get(self.url + query)
        return Reply(r.status_code, r.get_data(as_text=True), r.headers)

    def post(self, form: dict, **headers) -> Reply:
        r = self.client.post(self.url, data=form, headers=headers)
        return Reply(r.status_code, r.get_data(as_text=True), r.headers)

    def close(self) -> None:
        self.app.extensions["cartrecovery"].holder.close()


class DjangoSite:
    url = "/cr/dashboard/"
    csrf_name = "csrfmiddlewaretoken"
    origin = "http://testserver"

    def __init__(self, tmp_path, clock):
        pytest.importorskip("django")
        from django.conf import settings
        from django.test import Client, override_settings

        import cartrecovery.django as crd

        users()  # the shop's staff and customers, in django.contrib.auth
        self._crd = crd
        self._settings = override_settings(CARTRECOVERY={
            **settings.CARTRECOVERY, "STORE": f"sqlite:///{tmp_path / 'dj.db'}", "CLOCK": clock,
            "FLOWS": FLOWS, "ENGINE_SETTINGS": POOLS})
        self._settings.enable()
        self.client = Client(enforce_csrf_checks=True)  # Django's test client skips CSRF otherwise
        self.engine = crd.engine()

    def log_in(self, user: str) -> None:
        from django.contrib.auth.models import User

        self.client.force_login(User.objects.get(username=user))

    def get(self, query: str = "") -> Reply:
        r = self.client.get(self.url + query)
        return Reply(r.status_code, r.content.decode(), r.headers)

    def post(self, form: dict, **headers) -> Reply:
        r = self.client.post(self.url, form, headers=headers)
        return Reply(r.status_code, r.content.decode(), r.headers)

    def close(self) -> None:
        self._settings.disable()
        self._crd.reset()


_users_made = False


def users() -> None:
    """ann is staff, bob a customer, cy a former staff member (inactive), in Django's auth
    tables (an in-memory SQLite database, made once per test process)."""
    global _users_made
    if _users_made:
        return
    import django
    from django.core.management import call_command

    # Django reads its settings once per process: the same ones test_django_adapter uses.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    django.setup()
    from django.contrib.auth.models import User

    call_command("migrate", run_syncdb=True, verbosity=0)
    User.objects.create(username="ann", is_staff=True)
    User.objects.create(username="bob")
    User.objects.create(username="cy", is_staff=True, is_active=False)
    _users_made = True


@pytest.fixture
def clock():
    return cr.ManualClock(T0)


@pytest.fixture(params=["flask", "django"])
def site(request, tmp_path, clock):
    s = (FlaskSite if request.param == "flask" else DjangoSite)(tmp_path, clock)
    yield s
    s.close()


@pytest.fixture
def staff(site):
    site.log_in("ann")
    return site


def post_as_staff(site, **form) -> Reply:
    """A form posted the way the page's own button posts it: with the page's CSRF token."""
    token = site.get().field(site.csrf_name)
    return site.post({site.csrf_name: token, **form}, Origin=site.origin)


def flow(engine, name) -> dict:
    return next(f for f in engine.flows() if f["name"] == name)


def row(html: str, name: str) -> str:
    """The flows table's row of one flow."""
    return re.search(rf'<tr data-flow="{re.escape(escape(name))}".*?</tr>', html, re.S).group(0)


# ---- who may see it ----------------------------------------------------------------------
def test_anonymous_visitors_are_sent_to_log_in_and_customers_are_refused(site):
    r = site.get()
    assert r.status == 302 and "login" in r.location and "next=" in r.location
    assert site.post({"flow": "cart-recovery", "action": "pause"}).status in (302, 403)
    site.log_in("bob")
    r = site.get()
    assert r.status == 403 and "cart-recovery" not in r.text
    assert site.post({"flow": "cart-recovery", "action": "pause"}).status == 403
    assert flow(site.engine, "cart-recovery")["status"] == "running"


def test_django_never_shows_the_page_to_former_staff(tmp_path, clock):
    site = DjangoSite(tmp_path, clock)
    try:
        site.log_in("cy")  # is_staff, but no longer active: Django logs such a user out
        r = site.get()
        assert r.status == 302 and "login" in r.location and "cart-recovery" not in r.text
    finally:
        site.close()


def test_flask_dashboard_is_closed_without_a_dashboard_auth_hook(tmp_path, clock):
    site = FlaskSite(tmp_path, clock, DASHBOARD_AUTH=None)
    try:
        site.log_in("ann")  # staff in the shop's eyes, but nobody told the extension so
        r = site.get()
        assert r.status == 403 and "DASHBOARD_AUTH" in r.text and "cart-recovery" not in r.text
    finally:
        site.close()


# ---- what it shows -----------------------------------------------------------------------
def test_staff_see_every_flow_and_why_one_waits_for_coupons(staff, clock):
    engine = staff.engine
    add_cart(engine, "small", items=[KITE], email="ann@example.com")
    add_cart(engine, "big", items=[BOARD], email="bob@example.com")
    clock.advance(2 * HOUR)
    engine.run_due()
    r = staff.get()
    assert r.status == 200
    for f in engine.flows():
        assert f'data-status="{f["status"]}"' in row(r.text, f["name"])
    waiting = row(r.text, "big-carts")
    assert 'data-status="paused"' in waiting and "coupon_pool_empty:csv" in waiting
    assert "the pool csv is empty" in waiting and "1 reminder waiting" in waiting
    assert 'data-status="running"' in row(r.text, "cart-recovery")
    # One pause button per flow, each carrying the CSRF token.
    assert len(re.findall(r'name="action" value="pause"', r.text)) == len(engine.flows())
    assert r.text.count(f'name="{staff.csrf_name}"') == len(engine.flows())


def test_the_worker_section_tells_a_stalled_scheduler_from_a_healthy_one(staff, clock):
    engine = staff.engine
    add_cart(engine, "c1", items=[KITE])
    clock.advance(2 * HOUR)
    engine.run_due()
    html = staff.get().text
    assert 'data-healthy="true"' in html and "Healthy" in html
    assert "2026-03-02 11:00 UTC" in html  # the last worker run, on the engine's clock
    clock.advance(timedelta(days=2))  # reminder 2 fell due long ago and no worker ran since
    status = engine.status()
    assert not status["healthy"]
    html = staff.get().text
    assert 'data-healthy="false"' in html and "Needs attention" in html
    for problem in status["problems"]:
        assert escape(problem) in html


def test_the_page_keeps_secrets_off_and_cannot_be_framed(staff):
    r = staff.get()
    assert r.status == 200 and "test-secret-0123456789" not in r.text  # both shops' secrets end so
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_the_report_and_its_charts_are_on_the_page(staff, clock):
    engine = staff.engine
    add_cart(engine, "c1", items=[KITE])
    clock.advance(2 * HOUR)
    engine.run_due()
    html = staff.get().text
    report = html.split('<section class="cr-report"', 1)[1]  # report_html's fragment
    assert "<svg" in report and "<script" not in html  # charts inline; the page runs no script
    [r] = [r for r in engine.report() if r["flow"] == "cart-recovery"]
    assert re.search(rf'>cart-recovery</td><td[^>]*>{r["step"]}</td><td[^>]*>email</td>'
                     rf'<td[^>]*data-key="sent">{r["sent"]}</td>', report)
    # The period picked on the page is the report's: whole UTC days, the last one included.
    day = T0.date().isoformat()
    assert f"{day} to {day} (UTC)" in staff.get(f"?since={day}&until={day}").text
    later = staff.get(f"?since={(T0 + timedelta(days=1)).date().isoformat()}").text
    assert "Nothing yet for this period" in later


def test_a_bad_report_date_is_a_400_naming_it(staff):
    r = staff.get("?since=yesterday")
    assert r.status == 400 and "since: expected a date as YYYY-MM-DD" in r.text
    r = staff.get("?since=2026-03-05&until=2026-03-01")
    assert r.status == 400 and "until: before since" in r.text


# ---- pause and resume --------------------------------------------------------------------
def test_pausing_a_flow_holds_its_reminders_until_it_is_resumed(staff, clock):
    engine = staff.engine
    r = post_as_staff(staff, flow="cart-recovery", action="pause", reason="new prices on Monday")
    assert r.status in (302, 303) and r.location.endswith("done=pause&flow=cart-recovery")
    f = flow(engine, "cart-recovery")
    assert f["status"] == "paused" and "new prices on Monday" in f["paused_by_staff"]["reason"]
    assert flow(engine, "big-carts")["status"] == "running"  # only the one flow

    add_cart(engine, "c1", items=[KITE], email="ann@example.com")
    clock.advance(3 * HOUR)
    engine.run_due()
    assert sent(engine, "c1") == []  # due, but the flow is paused
    html = staff.get("?done=pause&flow=cart-recovery").text
    assert "Paused cart-recovery." in html
    paused_row = row(html, "cart-recovery")
    assert 'data-status="paused"' in paused_row and "Paused by staff: new prices on Monday" in paused_row
    assert "held while the flow is paused" in paused_row and "1 reminder waiting" in paused_row
    assert 'value="resume"' in paused_row and 'value="pause"' not in paused_row

    r = post_as_staff(staff, flow="cart-recovery", action="resume")
    assert r.status in (302, 303)
    f = flow(engine, "cart-recovery")
    assert f["status"] == "running" and f["paused_by_staff"] is None
    resumed_row = row(staff.get().text, "cart-recovery")
    assert 'data-status="running"' in resumed_row and 'value="pause"' in resumed_row
    clock.advance(timedelta(minutes=1))
    engine.run_due()
    [m] = sent(engine, "c1")  # the held reminder goes out, once
    assert m["to"] == "ann@example.com" and m["flow"] == "cart-recovery"


def test_a_pause_reason_is_escaped_and_says_who_paused(staff):
    post_as_staff(staff, flow="cart-recovery", action="pause", reason='<img src=x onerror="alert(1)">')
    html = staff.get().text
    assert '<img src=x' not in html and escape('<img src=x onerror="alert(1)">') in html
    post_as_staff(staff, flow="cart-recovery", action="resume")
    post_as_staff(staff, flow="big-carts", action="pause")
    if isinstance(staff, DjangoSite):  # Django knows who is logged in
        assert flow(staff.engine, "big-carts")["paused_by_staff"]["reason"] == "paused by ann"


def test_a_post_without_or_with_a_forged_csrf_token_is_refused_and_changes_nothing(staff):
    assert staff.post({"flow": "cart-recovery", "action": "pause"}, Origin=staff.origin).status == 403
    token = staff.get().field(staff.csrf_name)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert staff.post({staff.csrf_name: forged, "flow": "cart-recovery", "action": "pause"},
                      Origin=staff.origin).status == 403
    # The page's own token, posted from another site's page.
    assert staff.post({staff.csrf_name: token, "flow": "cart-recovery", "action": "pause"},
                      Origin="https://evil.example").status == 403
    f = flow(staff.engine, "cart-recovery")
    assert f["status"] == "running" and not f.get("paused_by_staff")


def test_flask_form_tokens_belong_to_one_session(tmp_path, clock):
    """A token lifted from one staff member's page is useless in another session."""
    site = FlaskSite(tmp_path, clock)
    try:
        site.log_in("ann")
        token = site.get().field("csrf_token")
        other = site.app.test_client()
        other.post("/login", data={"user": "ann"})
        other.get(site.url)
        r = other.post(site.url, data={"csrf_token": token, "flow": "cart-recovery", "action": "pause"})
        assert r.status_code == 403 and "bad form token" in r.get_data(as_text=True)
        assert flow(site.engine, "cart-recovery")["status"] == "running"
    finally:
        site.close()


def test_form_tokens_expire_and_are_bound_to_their_purpose():
    secret, nonce = "s" * 20, web.new_form_nonce()
    token = web.sign_form(secret, nonce, "dashboard", now=1_000_000)
    web.verify_form(secret, token, nonce, "dashboard", now=1_000_000 + 60)
    for args, message in (((secret, token, nonce, "dashboard", 3600, 1_000_000 + 3601), "expired"),
                          ((secret, token, nonce, "something-else"), "bad form token"),
                          (("t" * 20, token, nonce, "dashboard"), "bad form token"),
                          ((secret, token, None, "dashboard"), "no form token in this session"),
                          ((secret, "ä.b", nonce, "dashboard"), "malformed")):
        with pytest.raises(web.BadRequest) as e:
            web.verify_form(*args, **({} if len(args) > 4 else {"now": 1_000_000}))
        assert e.value.status == 403 and message in e.value.message


@pytest.mark.parametrize("form, field", [
    ({"flow": "no-such-flow", "action": "pause"}, "flow"),
    ({"flow": "<script>x</script>", "action": "resume"}, "flow"),
    ({"action": "pause"}, "flow"),
    ({"flow": "cart-recovery", "action": "delete"}, "action"),
    ({"flow": "cart-recovery"}, "action"),
    ({"flow": "cart-recovery", "action": "pause", "reason": "x" * 201}, "reason"),
])
def test_a_bad_form_is_a_400_naming_the_field_and_changes_nothing(staff, form, field):
    r = post_as_staff(staff, **form)
    assert r.status == 400 and f'role="alert">{field}: ' in r.text
    assert "<script>x" not in r.text
    assert all(f["status"] == "running" and not f.get("paused_by_staff") for f in staff.engine.flows())


def test_parse_form_raises_validation_errors_with_the_field(make_engine):
    engine = make_engine()
    with pytest.raises(cr.ValidationError) as e:
        dashboard.parse_form(engine, {"action": "pause", "flow": "nope"})
    assert e.value.field == "flow" and "cart-recovery" in str(e.value)
    act = dashboard.parse_form(engine, {"action": "pause", "flow": "cart-recovery", "reason": "  stock\n count "},
                               who="ann")
    assert (act.action, act.flow, act.reason) == ("pause", "cart-recovery", "stock count (ann)")
