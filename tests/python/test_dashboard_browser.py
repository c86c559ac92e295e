"""The staff dashboard in headless Chromium (Debian's chromium, driven by Playwright): the
Flask test shop served by werkzeug on 127.0.0.1, a staff member logs in through the shop's
own login form, pauses a flow with the page's button and sees the status change, then
resumes it. Skipped when chromium or Playwright is missing."""
from __future__ import annotations

import os

import pytest

if not os.path.exists("/usr/bin/chromium"):
    pytest.skip("no /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("flask")

import cartrecovery as cr  # noqa: E402
from browser_shop import ServedShop, launch_browser  # noqa: E402
from conftest import BOARD, HOUR, KITE, add_cart  # noqa: E402
from flask_testshop import staff_only  # noqa: E402

# Carts of 200 or more get a coupon from a pool that starts empty: that flow waits (R4.3).
BIG_CARTS = cr.Flow("big-carts", abandon_after="1h", enter_when={"min_value": "200"},
                    paths=[cr.Path("everyone", steps=[cr.Step(after="1h", channels=["email"], coupon="csv")])])


@pytest.fixture(scope="module")
def browser():
    with launch_browser() as b:
        yield b


class Shop(ServedShop):
    def __init__(self, tmp_path):
        super().__init__(tmp_path / "dashboard.db", DASHBOARD_AUTH=staff_only,
                         FLOWS=[BIG_CARTS, cr.default_flow()],
                         ENGINE_SETTINGS={"coupon_pools": [{"name": "csv", "kind": "imported",
                                                            "percent": 15}]})


@pytest.fixture
def shop(tmp_path):
    s = Shop(tmp_path)
    yield s
    s.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = ctx.new_page()
    yield pg
    ctx.close()


def screenshot(page, tmp_path, name):
    page.screenshot(path=str(tmp_path / name), full_page=True)
    if os.environ.get("CARTRECOVERY_SCREENSHOTS"):  # keep a copy to look at
        page.screenshot(path=os.path.join(os.environ["CARTRECOVERY_SCREENSHOTS"], name), full_page=True)
    assert (tmp_path / name).stat().st_size > 1000


def test_staff_pause_a_flow_from_the_dashboard_and_resume_it(page, shop, tmp_path):
    # Something to look at: one reminder sent, one big cart waiting for coupons.
    add_cart(shop.engine, "small", items=[KITE], email="ann@example.com")
    add_cart(shop.engine, "big", items=[BOARD], email="bob@example.com")
    shop.clock.advance(2 * HOUR)
    shop.engine.run_due()

    page.goto(shop.url + "/cr/dashboard")
    page.wait_for_url("**/login?next=*")  # the shop's hook sends strangers to log in
    page.fill("#user", "ann")
    page.click("#login")
    page.wait_for_url("**/cr/dashboard")

    default = page.locator('tr[data-flow="cart-recovery"]')
    assert default.get_attribute("data-status") == "running"
    assert "coupon_pool_empty:csv" in page.locator('tr[data-flow="big-carts"]').inner_text()

    default.locator('input[name="reason"]').fill("prices change on Monday")
    default.get_by_role("button", name="Pause").click()
    page.wait_for_url("**/cr/dashboard?done=pause&flow=cart-recovery")
    assert default.get_attribute("data-status") == "paused"
    assert "Paused by staff: prices change on Monday" in default.inner_text()
    assert page.get_by_role("status").inner_text() == "Paused cart-recovery."
    [f] = [f for f in shop.engine.flows() if f["name"] == "cart-recovery"]
    assert f["status"] == "paused" and f["paused_by_staff"]["reason"] == "prices change on Monday"
    screenshot(page, tmp_path, "dashboard-paused.png")

    default.get_by_role("button", name="Resume").click()
    page.wait_for_url("**/cr/dashboard?done=resume&flow=cart-recovery")
    assert default.get_attribute("data-status") == "running"
    assert default.get_by_role("button", name="Pause").is_visible()
    [f] = [f for f in shop.engine.flows() if f["name"] == "cart-recovery"]
    assert f["status"] == "running" and f["paused_by_staff"] is None
