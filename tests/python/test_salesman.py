"""cartrecovery.contrib.salesman against django-salesman from PyPI, through salesman's own
REST API (basket, checkout, orders) as a headless storefront drives it, with reminders
going out over real SMTP (aiosmtpd): a guest abandons checkout, gets the reminder, restores
the very basket on another device and orders, after which nothing more is sent; an emptied
basket gets no reminder; a basket merged at sign-in or rebuilt on restore carries the
journey on; forged or cross-origin beacons are refused and store nothing.

Django is set up once per process, and the other adapter tests use other projects, so these
scenarios run in a child pytest process of their own (one test here asserts that run passed
and shows its output when it did not)."""
from __future__ import annotations

import email
import email.policy
import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from shop_apps import HOSTILE_BEACONS, refuses_hostile_beacon, run_scenarios_in_child

pytest.importorskip("salesman")
pytest.importorskip("aiosmtpd")

CHILD = os.environ.get("CARTRECOVERY_SALESMAN_CHILD") == "1"

if not CHILD:
    def test_salesman_shop_end_to_end(tmp_path):
        run_scenarios_in_child(__file__, {"CARTRECOVERY_SALESMAN_CHILD": "1",
                                          "SALESMAN_SHOP_DB": str(tmp_path / "shop.db")})

    def test_the_readmes_salesman_lines_are_the_test_shops():
        """What the README tells a salesman shop to write is what this test's shop wrote."""
        here = Path(__file__).parent
        readme = (here.parents[1] / "README.md").read_text()
        block = re.search(r"### django-salesman.*?```text\n(.*?)```", readme, re.S).group(1)
        names = set(re.findall(r'"(cartrecovery[\w.]*)"', block))
        assert {"cartrecovery.django", "cartrecovery.contrib.salesman", "cartrecovery.django.urls",
                "cartrecovery.contrib.salesman.middleware.SalesmanRecoveryMiddleware",
                "cartrecovery_consent"} <= names, names
        shop = "".join((here / "salesman_shop" / f).read_text() for f in ("settings.py", "urls.py"))
        storefront = (here / "test_salesman.py").read_text()
        for name in names:
            assert f'"{name}"' in shop or f'"{name}"' in storefront, name
        assert "PUT /api/basket/extra/" in block and 'client.put("/api/basket/extra/"' in storefront
else:
    os.environ["DJANGO_SETTINGS_MODULE"] = "salesman_shop.settings"
    import django

    django.setup()
    import threading

    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client, override_settings
    from django.test.utils import setup_test_environment

    import cartrecovery as cr
    import cartrecovery.django as crd
    from cartrecovery.contrib.salesman.basket import ORDER_CART_KEY, cart_is_ordered
    from conftest import T0
    from salesman.core.utils import get_salesman_model
    from salesman_shop.models import Product
    from conftest import free_port

    setup_test_environment()
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)

    Basket = get_salesman_model("Basket")
    Order = get_salesman_model("Order")
    ORIGIN = {"Origin": "http://testserver"}
    ADDRESS = "Ann Kowalska\nHauptstr. 1\n10115 Berlin"

    class Inbox:
        """What the SMTP server accepted, as parsed e-mails."""

        def __init__(self):
            self.mails = []
            self.lock = threading.Lock()

        async def handle_DATA(self, server, session, envelope):
            with self.lock:
                self.mails.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

        def to(self, address):
            with self.lock:
                return [m for m in self.mails if m["To"].addresses[0].addr_spec == address]

    @pytest.fixture(scope="module")
    def smtp():
        inbox = Inbox()
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=10)
        controller.start()
        yield inbox, port
        controller.stop()

    @pytest.fixture(scope="module")
    def products():
        made = {}
        for code, name, price in (("KITE-1", "Kite Pro 9m", "19.99"), ("BOARD-2", "Twin-Tip Board", "249.00")):
            made[code], _ = Product.objects.get_or_create(code=code, defaults={"name": name, "price": price})
        return made

    @pytest.fixture
    def clock():
        return cr.ManualClock(T0)

    @pytest.fixture
    def inbox(smtp):
        smtp[0].mails.clear()
        return smtp[0]

    @pytest.fixture
    def engine(tmp_path, clock, products, smtp):
        channel = cr.SmtpChannel("127.0.0.1", smtp[1], starttls=False, sender="Kite Shop <shop@kite.example>",
                                 timeout=5)
        with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "CLOCK": clock,
                                             "CHANNELS": {"email": channel},
                                             "STORE": f"sqlite:///{tmp_path / 'recovery.db'}"}):
            yield crd.engine()
        crd.reset()

    def add(client, product, quantity=1):
        r = client.post("/api/basket/", {"product_type": "salesman_shop.Product", "product_id": product.pk,
                                         "quantity": quantity}, content_type="application/json")
        assert r.status_code == 201, r.content[:500]
        return r.json()["ref"]

    def basket_id(client) -> int:
        return client.session["BASKET_ID"]

    def leave_at_payment(client, address="ann@example.com", consent=True):
        """The storefront's checkout: the e-mail step (into salesman's basket extra, with the
        "remind me" box), then the payment step asks salesman for its payment methods."""
        extra = {"email": address, "cartrecovery_consent": consent}
        r = client.put("/api/basket/extra/", {"extra": extra}, content_type="application/json")
        assert r.status_code == 200, r.content[:500]
        r = client.get("/api/checkout/")
        assert r.status_code == 200 and r.json()["payment_methods"][0]["error"] is None, r.content[:500]

    def guest_at_payment(products, address, consent=True):
        """A new shopper with a kite in the basket, left at payment: (client, basket id)."""
        shopper = Client()
        add(shopper, products["KITE-1"])
        leave_at_payment(shopper, address=address, consent=consent)
        return shopper, basket_id(shopper)

    def check_out(client, address="ann@example.com", payment="pay-on-delivery", status=201, **extra):
        r = client.post("/api/checkout/", {"email": address, "shipping_address": ADDRESS, "billing_address": ADDRESS,
                                           "payment_method": payment, "extra": extra},
                        content_type="application/json")
        assert r.status_code == status, r.content[:1000]
        return Order.objects.get(token=r.json()["url"].split("token=")[1]) if status == 201 else None

    def restore_path(mail) -> str:
        text = mail.get_body(("plain",)).get_content()
        return re.search(r"http://testserver(/cr/r/[A-Za-z0-9_-]+)", text).group(1)

    def remind(engine, clock, hours=2):
        clock.advance(timedelta(hours=hours))
        engine.run_due()

    def test_the_script_is_on_the_shops_pages(engine):
        html = Client().get("/cart/").content.decode()
        assert "data-cr-token" in html and html.index("data-cr-token") < html.index("</body>")
        assert "data-cr-token" not in Client().get("/api/basket/", HTTP_ACCEPT="application/json").content.decode()

    def test_abandon_reminder_restore_keeps_identity_then_the_order_stops_everything(engine, clock, inbox, products):
        shopper = Client()
        add(shopper, products["KITE-1"])
        add(shopper, products["BOARD-2"])
        cart_id = basket_id(shopper)
        engine.flush()  # the model signals' receivers knew whose request changed the basket
        assert engine.cart(str(cart_id))["visitor_id"] == shopper.session[crd.SESSION_VISITOR]
        leave_at_payment(shopper)
        cart = engine.cart(str(cart_id))
        assert cart["stage"] == "payment" and str(cart["value"]) == "268.99" and "ann@example.com" in cart["contact"]
        remind(engine, clock)
        [mail] = inbox.to("ann@example.com")
        assert "Kite Pro 9m" in mail.get_body(("plain",)).get_content()

        phone = Client()  # another device: the link brings back the very basket
        r = phone.get(restore_path(mail))
        assert r.status_code == 302 and r["Location"] == "/cart/"
        assert basket_id(phone) == cart_id
        assert [i["product"]["code"] for i in phone.get("/api/basket/").json()["items"]] == ["KITE-1", "BOARD-2"]
        assert basket_id(phone) == cart_id  # salesman served that basket, made no new one

        order = check_out(phone)
        assert order.extra[ORDER_CART_KEY] == str(cart_id) and not Basket.objects.filter(pk=cart_id).exists()
        assert cart_is_ordered(str(cart_id), None) is True
        engine.flush()
        assert engine.cart(str(cart_id))["state"] == "recovered"
        remind(engine, clock, hours=24 * 5)
        assert len(inbox.to("ann@example.com")) == 1  # nothing after the order
        row = engine.report(by=())[0]
        assert row["orders"] == 1 and str(row["revenue"]) == str(order.total) == "268.99"

    @pytest.mark.parametrize("how", ["remove_item", "clear", "delete_basket"])
    def test_an_emptied_basket_gets_no_reminder(engine, clock, inbox, products, how):
        shopper = Client()
        ref = add(shopper, products["KITE-1"])
        cart_id = basket_id(shopper)
        leave_at_payment(shopper, address=f"{how}@example.com")
        r = {"remove_item": lambda: shopper.delete(f"/api/basket/{ref}/"),
             "clear": lambda: shopper.post("/api/basket/clear/"),
             "delete_basket": lambda: shopper.delete("/api/basket/")}[how]()
        assert r.status_code in (200, 204), r.content[:500]
        assert not Basket.objects.filter(pk=cart_id, items__isnull=False).exists()
        assert engine.cart(str(cart_id))["state"] == "emptied"
        remind(engine, clock, hours=24 * 3)
        assert inbox.to(f"{how}@example.com") == []

    def test_quantity_changes_and_removals_reach_the_engine(engine, products):
        shopper = Client()
        kite = add(shopper, products["KITE-1"])
        board = add(shopper, products["BOARD-2"])
        cart_id = str(basket_id(shopper))
        assert shopper.put(f"/api/basket/{kite}/", {"quantity": 3},
                           content_type="application/json").status_code == 200
        assert shopper.delete(f"/api/basket/{board}/").status_code == 204
        engine.flush()
        assert [(i["sku"], i["quantity"]) for i in engine.cart(cart_id)["items"]] == [("KITE-1", 3)]
        assert str(engine.cart(cart_id)["value"]) == "59.97"

    def test_a_declined_payment_leaves_a_cart_at_payment_with_its_contact(engine, clock, inbox, products):
        shopper = Client()
        add(shopper, products["KITE-1"])
        cart_id = basket_id(shopper)
        # The e-mail and the "remind me" box reach salesman only with the checkout itself.
        check_out(shopper, address="declined@example.com", payment="declined-card", status=402,
                  cartrecovery_consent=True)
        cart = engine.cart(str(cart_id))
        assert cart["stage"] == "payment" and "declined@example.com" in cart["contact"]
        remind(engine, clock)
        assert len(inbox.to("declined@example.com")) == 1

    def test_nothing_is_stored_about_a_visitor_before_tracking_consent(engine, products):
        with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, **crd.config().source,
                                             "TRACKING_CONSENT": lambda r: r.COOKIES.get("ok") == "1"}):
            gated = crd.engine()
            shopper = Client()
            add(shopper, products["KITE-1"])
            leave_at_payment(shopper, address="gated@example.com")
            assert "data-cr-token" not in shopper.get("/cart/").content.decode()
            gated.flush()
            assert gated.cart(str(basket_id(shopper))) is None and "_cr_visitor" not in shopper.session
            shopper.cookies["ok"] = "1"  # the shop's banner said yes
            add(shopper, products["BOARD-2"])
            gated.flush()
            assert [i["sku"] for i in gated.cart(str(basket_id(shopper)))["items"]] == ["KITE-1", "BOARD-2"]

    def test_a_guest_without_consent_gets_no_reminder(engine, clock, inbox, products):
        guest_at_payment(products, "no@example.com", consent=False)
        remind(engine, clock)
        assert inbox.to("no@example.com") == []

    def test_the_order_check_asks_salesmans_order_table(engine, clock, inbox, products):
        _, cart_id = guest_at_payment(products, "bank@example.com")
        assert cart_is_ordered(str(cart_id), "bank@example.com") is False
        # An order the engine never heard of: the shop's back office, still NEW.
        Order.objects.create(ref=f"BANK-{cart_id}", email="bank@example.com", total=20)
        assert cart_is_ordered(str(cart_id), "bank@example.com") is True
        remind(engine, clock)
        assert inbox.to("bank@example.com") == []
        assert engine.cart(str(cart_id))["journey"]["end_reason"] == "ordered"

    def test_a_guest_basket_merged_at_sign_in_carries_the_journey_on(engine, clock, inbox, products):
        User.objects.create_user("mia", "mia@example.com", "kite-pass-1")
        shopper, guest_basket = guest_at_payment(products, "mia@example.com")
        assert shopper.login(username="mia", password="kite-pass-1")
        assert shopper.get("/api/basket/").status_code == 200  # salesman merges the guest basket
        account_basket = Basket.objects.get(user__username="mia").pk
        assert account_basket != guest_basket and not Basket.objects.filter(pk=guest_basket).exists()
        engine.flush()
        assert engine.cart(str(guest_basket))["state"] != "emptied"
        assert [i["sku"] for i in engine.cart(str(account_basket))["items"]] == ["KITE-1"]
        remind(engine, clock)
        assert len(inbox.to("mia@example.com")) == 1
        order = check_out(shopper, address="mia@example.com")
        assert order.extra[ORDER_CART_KEY] == str(account_basket)
        engine.flush()
        remind(engine, clock, hours=24 * 5)
        assert len(inbox.to("mia@example.com")) == 1
        assert engine.report(by=())[0]["orders"] == 1

    def test_a_restore_into_the_account_basket_continues_the_journey(engine, clock, inbox, products):
        User.objects.create_user("ola", "ola@example.com", "kite-pass-2")
        shopper, cart_id = guest_at_payment(products, "ola@example.com")
        remind(engine, clock)
        [mail] = inbox.to("ola@example.com")
        phone = Client()
        assert phone.login(username="ola", password="kite-pass-2")
        assert phone.get(restore_path(mail)).status_code == 302
        new_id = Basket.objects.get(user__username="ola").pk
        assert new_id != cart_id
        assert [i["product"]["code"] for i in phone.get("/api/basket/").json()["items"]] == ["KITE-1"]
        engine.flush()
        assert engine.cart(str(new_id))["journey"]["flow"] == "cart-recovery"
        order = check_out(phone, address="ola@work.example")  # another e-mail: the cart carries it
        engine.flush()
        assert engine.cart(str(new_id))["state"] == "recovered"
        row = engine.report(by=())[0]
        assert row["orders"] == 1 and str(row["revenue"]) == str(order.total)
        remind(engine, clock, hours=24 * 5)
        assert len(inbox.to("ola@example.com")) == 1

    @pytest.mark.parametrize("case", HOSTILE_BEACONS)
    def test_hostile_beacons_are_refused_and_store_nothing(engine, products, case):
        shopper = Client()
        add(shopper, products["KITE-1"])
        refuses_hostile_beacon(engine, shopper, "/cart/", str(basket_id(shopper)), case)

    def test_a_beacon_with_the_shops_token_is_stored(engine, products):
        # The other side of the hostile cases: the same request, honest, gets through.
        shopper = Client()
        add(shopper, products["KITE-1"])
        token = re.search(r'data-cr-token="([^"]+)"', shopper.get("/cart/").content.decode()).group(1)
        engine.flush()
        before = len(list(engine.events()))
        r = shopper.post("/cr/b", json.dumps({"t": token, "events": [{"type": "contact", "email": "ok@example.com"}]}),
                         content_type="text/plain", headers=ORIGIN)
        assert r.status_code < 300, r.content
        engine.flush()
        assert len(list(engine.events())) > before
