"""The browser script in headless Chromium (Debian's chromium, driven by Playwright) against
the Flask test shop served by werkzeug on 127.0.0.1: exit intent, contact capture as the
shopper types, the abandoned-tab notice. Skipped when chromium or Playwright is missing."""
from __future__ import annotations

import os
import time

import pytest

if not os.path.exists("/usr/bin/chromium"):
    pytest.skip("no /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("flask")

from browser_shop import ServedShop, launch_browser  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    with launch_browser() as b:
        yield b


class Shop(ServedShop):
    def __init__(self, tmp_path):
        # The engine's own offers: a generated-coupon pool, and an incentive for every hot
        # lead (share 1.0) so the test knows a coupon popup is due.
        offers = {"coupon_pools": [{"name": "exit10", "kind": "generated", "percent": 10,
                                    "prefix": "KITE"}],
                  "exit_intent": {"pool": "exit10", "incentive": {"share": 1.0}}}
        super().__init__(tmp_path / "browser.db", ENGINE_SETTINGS=offers)


@pytest.fixture
def shop(tmp_path):
    s = Shop(tmp_path)
    yield s
    s.close()


@pytest.fixture
def page(browser, shop):
    ctx = browser.new_context(viewport={"width": 1000, "height": 700}, has_touch=False)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def add_kite(page, shop):
    page.goto(shop.url + "/p/KITE-1")
    page.click("#add")
    page.wait_for_url("**/cart")


def wait_for(fn, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def test_pointer_leaving_through_the_top_shows_the_engines_coupon_once(page, shop, tmp_path):
    add_kite(page, shop)
    page.goto(shop.url + "/checkout")
    page.locator("#email").press_sequentially("leaving@example.com", delay=20)  # a hot lead now
    cart_id = page.evaluate("JSON.parse(atob(document.querySelector('script[data-cr-token]')"
                            ".dataset.crToken.split('.')[0].replace(/-/g,'+').replace(/_/g,'/')))[1]")
    assert wait_for(lambda: (shop.engine.cart(cart_id) or {}).get("contact") == "e:leaving@example.com")
    page.mouse.move(500, 300)
    page.mouse.move(500, 100)
    page.mouse.move(500, -10)  # out through the top edge
    popup = page.locator(".cr-popup[role=dialog]")
    popup.wait_for(state="visible", timeout=5000)
    page.screenshot(path=str(tmp_path / "exit-popup.png"))
    if os.environ.get("CARTRECOVERY_SCREENSHOTS"):  # keep a copy to look at
        page.screenshot(path=os.path.join(os.environ["CARTRECOVERY_SCREENSHOTS"], "exit-popup.png"))
    assert (tmp_path / "exit-popup.png").stat().st_size > 1000
    # The code on screen is the one the engine recorded for this visitor: asking the engine
    # again returns that recorded offer (never a second draw).
    shown = popup.locator(".cr-coupon").inner_text()
    assert "10 %" in popup.inner_text()  # the pool's discount, in words
    recorded = shop.engine.exit_intent(visitor_id=page.evaluate(
        "JSON.parse(atob(document.querySelector('script[data-cr-token]')"
        ".dataset.crToken.split('.')[0].replace(/-/g,'+').replace(/_/g,'/')))[0]"), cart_id=cart_id)
    assert recorded["repeated"] and recorded["coupon"]["code"] == shown
    assert shop.engine.validate_coupon(shown, "leaving@example.com")["valid"]
    # accessible: labelled, focus inside, Escape closes and gives focus back
    labelled = popup.get_attribute("aria-labelledby")
    assert page.locator(f"#{labelled}").inner_text()
    assert page.evaluate("document.querySelector('.cr-popup').contains(document.activeElement)")
    page.keyboard.press("Escape")
    popup.wait_for(state="detached")
    # at most once per session, also on the next page
    page.goto(shop.url + "/cart")
    page.mouse.move(500, 300)
    page.mouse.move(500, -10)
    page.wait_for_timeout(300)
    assert page.locator(".cr-popup").count() == 0


def test_email_typed_into_checkout_reaches_the_engine_before_submit(page, shop):
    add_kite(page, shop)
    page.goto(shop.url + "/checkout")
    page.locator("#email").press_sequentially("typed@example.com", delay=20)
    cart_id = page.evaluate("JSON.parse(atob(document.querySelector('script[data-cr-token]')"
                            ".dataset.crToken.split('.')[0].replace(/-/g,'+').replace(/_/g,'/')))[1]")

    def contact():  # the cart's contact key, "e:<email>" once an e-mail is known
        cart = shop.engine.cart(cart_id)
        return cart and cart.get("contact")

    assert wait_for(contact) == "e:typed@example.com"
    assert page.url.endswith("/checkout")  # nothing was submitted


SET_VISIBILITY = """state => {
    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => state});
    document.dispatchEvent(new Event('visibilitychange'));
}"""


def test_tab_title_changes_while_hidden_and_comes_back(page, shop):
    add_kite(page, shop)
    page.goto(shop.url + "/cart")
    assert page.title() == "Your cart"
    # Headless Chromium keeps every tab "visible" (bring_to_front on another tab changes
    # nothing), so the test reports the state change the way a real tab switch does.
    page.evaluate(SET_VISIBILITY, "hidden")
    assert page.title() == "(1) Your cart is waiting"
    icon = "document.querySelector(\"link[rel~='icon']\").getAttribute('href')"
    assert page.evaluate(icon).startswith("data:image/svg")
    page.evaluate(SET_VISIBILITY, "visible")
    assert page.title() == "Your cart"
    assert page.evaluate(icon) == "data:,"
