"""The example shops (Flask and Django), started as its README says, driven through a purchase and an
abandonment; the abandoned cart's reminder shows up on the shop's /mails page."""
from __future__ import annotations

import http.cookiejar
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port

pytest.importorskip("flask")
pytest.importorskip("aiosmtpd")
ROOT = Path(__file__).resolve().parents[2]


class Browser:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path):
        with self.opener.open(self.base + path, timeout=5) as r:
            return r.geturl(), r.read().decode()

    def post(self, path, **form):
        # What the page's form carries: Django's CSRF token (the Flask shop has none).
        token = next((c.value for c in self.jar if c.name == "csrftoken"), None)
        if token:
            form["csrfmiddlewaretoken"] = token
        with self.opener.open(self.base + path, urllib.parse.urlencode(form).encode(), timeout=5) as r:
            return r.geturl(), r.read().decode()


SHOPS = {"flask": "examples/flask_shop/app.py", "django": "examples/django_shop/shop.py"}


@pytest.fixture(params=sorted(SHOPS))
def shop(request, tmp_path):
    """Starts an example shop as its README says, with demo time compressed further."""
    port, smtp = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugin-adapters")}
    proc = subprocess.Popen([sys.executable, str(ROOT / SHOPS[request.param]), "--port", str(port),
                             "--smtp-port", str(smtp), "--store", f"sqlite:///{tmp_path / 'shop.db'}",
                             "--abandon-after", "2s", "--first-reminder", "1s"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(proc.stdout.read())
            time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(10)
    proc.stdout.close()


def test_example_shop_purchase_and_abandonment(shop):
    buyer = Browser(shop)
    buyer.get("/p/KITE-9")
    buyer.post("/cart/add", sku="KITE-9")
    buyer.post("/checkout", email="buyer@example.com")
    buyer.post("/checkout/shipping", address="1 Beach Road")
    buyer.get("/checkout/pay")
    url, html = buyer.post("/checkout/pay")
    assert "/order/" in url and "Thank you" in html

    leaver = Browser(shop)
    leaver.get("/p/BOARD-2")
    leaver.post("/cart/add", sku="BOARD-2")
    leaver.post("/checkout", email="leaver@example.com")
    # Demo time, compressed further for the test: abandoned after 2 s, reminded 1 s later.
    deadline = time.monotonic() + 20
    html = ""
    while time.monotonic() < deadline:
        _, html = leaver.get("/mails")
        if "leaver@example.com" in html:
            break
        time.sleep(0.5)
    assert "leaver@example.com" in html
    assert "buyer@example.com" not in html
