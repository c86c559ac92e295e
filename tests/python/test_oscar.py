"""cartrecovery.contrib.oscar against django-oscar from PyPI, through oscar's own views: a
guest abandons checkout, gets the reminder, restores the very basket on another device and
orders, after which nothing more is sent; an emptied basket gets no reminder; forged or
cross-origin beacons are refused and store nothing.

Django is set up once per process, and the other adapter tests use another project, so
these scenarios run in a child pytest process of their own (one test here asserts that run
passed and shows its output when it did not)."""
from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest

from shop_apps import HOSTILE_BEACONS, refuses_hostile_beacon, run_scenarios_in_child

pytest.importorskip("oscar")

CHILD = os.environ.get("CARTRECOVERY_OSCAR_CHILD") == "1"

if not CHILD:
    def test_oscar_shop_end_to_end(tmp_path):
        run_scenarios_in_child(__file__, {"CARTRECOVERY_OSCAR_CHILD": "1", "OSCAR_SHOP_DB": str(tmp_path / "shop.db")})
else:
    os.environ["DJANGO_SETTINGS_MODULE"] = "oscar_shop.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client, override_settings
    from django.test.utils import setup_test_environment

    import cartrecovery as cr
    import cartrecovery.django as crd
    from conftest import T0
    from oscar.core.loading import get_model

    setup_test_environment()
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)

    Basket = get_model("basket", "Basket")
    Order = get_model("order", "Order")

    @pytest.fixture(scope="module")
    def products():
        Country = get_model("address", "Country")
        Partner = get_model("partner", "Partner")
        ProductClass = get_model("catalogue", "ProductClass")
        Product = get_model("catalogue", "Product")
        StockRecord = get_model("partner", "StockRecord")
        Country.objects.get_or_create(iso_3166_1_a2="DE", defaults={
            "name": "Germany", "printable_name": "Germany", "is_shipping_country": True})
        partner, _ = Partner.objects.get_or_create(name="Kite Partner")
        kind, _ = ProductClass.objects.get_or_create(name="Kites", defaults={"requires_shipping": True})
        made = {}
        for upc, title, price in (("KITE-1", "Kite Pro 9m", "19.99"), ("BOARD-2", "Twin-Tip Board", "249.00")):
            product, _ = Product.objects.get_or_create(upc=upc, defaults={"title": title, "product_class": kind})
            StockRecord.objects.get_or_create(product=product, partner=partner, defaults={
                "partner_sku": upc, "price": price, "price_currency": "EUR", "num_in_stock": 100})
            made[upc] = product
        return made

    @pytest.fixture
    def clock():
        return cr.ManualClock(T0)

    @pytest.fixture
    def engine(tmp_path, clock, products):
        with override_settings(CARTRECOVERY={**settings.CARTRECOVERY, "CLOCK": clock,
                                             "STORE": f"sqlite:///{tmp_path / 'recovery.db'}"}):
            yield crd.engine()
        crd.reset()

    def add_to_basket(client, product, quantity=1):
        r = client.post(f"/basket/add/{product.pk}/", {"quantity": quantity})
        assert r.status_code == 302, r.content[:500]

    def guest_checkout_to_payment(client, email="ann@example.com", consent=True):
        assert client.get("/checkout/").status_code == 200  # oscar's gateway
        form = {"username": email, "options": "anonymous"}
        if consent:
            form["cartrecovery_consent"] = "on"
        r = client.post("/checkout/", form)
        assert r.status_code == 302 and "shipping-address" in r["Location"], r.content[:2000]
        assert client.get("/checkout/shipping-address/").status_code == 200
        r = client.post("/checkout/shipping-address/", {
            "first_name": "Ann", "last_name": "Kowalska", "line1": "Hauptstr. 1", "line4": "Berlin",
            "postcode": "10115", "country": "DE", "phone_number": ""})
        assert r.status_code == 302, r.content[:3000]
        r = client.get(r["Location"], follow=True)  # shipping method -> payment -> preview
        assert r.status_code == 200
        return r

    def basket_id(client) -> int:
        return client.get("/basket/").context["basket"].pk

    def set_line_quantity(client, quantity: int):
        """Oscar's basket page form: the first line's quantity (0 deletes the line)."""
        formset = client.get("/basket/").context["formset"]
        p = formset.prefix
        data = {f"{p}-TOTAL_FORMS": "1", f"{p}-INITIAL_FORMS": "1", f"{p}-MIN_NUM_FORMS": "0",
                f"{p}-MAX_NUM_FORMS": "1000", f"{p}-0-id": str(formset.forms[0].instance.pk),
                f"{p}-0-quantity": str(quantity)}
        return client.post("/basket/", data)

    def sent(engine, cart_id):
        return [m for m in engine.messages(cart_id=str(cart_id)) if m["status"] == "sent"]

    def test_the_script_is_on_oscars_pages_with_their_page_type(engine, products):
        client = Client()
        html = client.get(products["KITE-1"].get_absolute_url()).content.decode()
        assert 'data-cr-page="product"' in html and "data-cr-token" in html
        assert 'data-cr-page="cart"' in client.get("/basket/").content.decode()

    def test_abandon_reminder_restore_keeps_identity_then_the_order_stops_everything(engine, clock, products):
        shopper = Client()
        add_to_basket(shopper, products["KITE-1"])
        add_to_basket(shopper, products["BOARD-2"])
        cart_id = basket_id(shopper)
        engine.flush()  # told after oscar's view, with the shopper's visitor
        assert engine.cart(str(cart_id))["visitor_id"] == shopper.session[crd.SESSION_VISITOR]
        guest_checkout_to_payment(shopper)
        cart = engine.cart(str(cart_id))
        assert cart["stage"] == "payment" and str(cart["value"]) == "268.99"
        clock.advance(timedelta(hours=2))
        engine.run_due()
        [m] = sent(engine, cart_id)
        assert m["to"] == "ann@example.com" and "Kite Pro 9m" in m["text"]
        restore = re.search(r"http://testserver(/cr/r/[A-Za-z0-9_-]+)", m["text"]).group(1)

        phone = Client()  # another device: the link brings back the very basket
        r = phone.get(restore)
        assert r.status_code == 302 and r["Location"] == "/basket/"
        assert basket_id(phone) == cart_id
        assert {line.product.upc for line in Basket.objects.get(pk=cart_id).lines.all()} == {"KITE-1", "BOARD-2"}

        guest_checkout_to_payment(phone)
        r = phone.post("/checkout/preview/", {"action": "place_order"})
        assert r.status_code == 302 and "thank-you" in r["Location"], r.content[:2000]
        order = Order.objects.get(basket_id=cart_id)
        engine.flush()
        assert engine.cart(str(cart_id))["state"] == "recovered"
        clock.advance(timedelta(days=5))
        engine.run_due()
        assert len(sent(engine, cart_id)) == 1  # nothing after the order
        row = engine.report(by=())[0]
        assert row["orders"] == 1 and str(row["revenue"]) == str(order.total_incl_tax)

    def test_an_emptied_basket_gets_no_reminder(engine, clock, products):
        shopper = Client()
        add_to_basket(shopper, products["KITE-1"])
        cart_id = basket_id(shopper)
        guest_checkout_to_payment(shopper)
        # Oscar's basket page: quantity 0 deletes the line (no oscar signal for that).
        assert set_line_quantity(shopper, 0).status_code == 302
        assert Basket.objects.get(pk=cart_id).num_lines == 0
        assert engine.cart(str(cart_id))["state"] == "emptied"
        clock.advance(timedelta(days=3))
        engine.run_due()
        assert sent(engine, cart_id) == []

    def test_a_quantity_change_reaches_the_engine(engine, products):
        shopper = Client()
        add_to_basket(shopper, products["KITE-1"])
        cart_id = basket_id(shopper)
        assert set_line_quantity(shopper, 3).status_code == 302
        engine.flush()
        assert [i["quantity"] for i in engine.cart(str(cart_id))["items"]] == [3]

    def test_a_guest_without_consent_gets_no_reminder(engine, clock, products):
        shopper = Client()
        add_to_basket(shopper, products["KITE-1"])
        cart_id = basket_id(shopper)
        guest_checkout_to_payment(shopper, email="no@example.com", consent=False)
        clock.advance(timedelta(hours=2))
        engine.run_due()
        assert sent(engine, cart_id) == []

    def test_the_order_check_asks_oscars_order_table(engine, clock, products):
        from cartrecovery.contrib.oscar.basket import cart_is_ordered

        shopper = Client()
        add_to_basket(shopper, products["KITE-1"])
        cart_id = basket_id(shopper)
        guest_checkout_to_payment(shopper, email="bank@example.com")
        assert cart_is_ordered(str(cart_id), "bank@example.com") is False
        # An order the engine never heard of (placed by the shop's back office, say).
        Order.objects.create(number=f"BANK-{cart_id}", basket_id=cart_id, currency="EUR", total_incl_tax=20,
                             total_excl_tax=20, guest_email="bank@example.com", site_id=1)
        assert cart_is_ordered(str(cart_id), None) is True
        clock.advance(timedelta(hours=2))
        engine.run_due()
        assert sent(engine, cart_id) == []
        assert engine.cart(str(cart_id))["journey"]["end_reason"] == "ordered"

    @pytest.mark.parametrize("case", HOSTILE_BEACONS)
    def test_hostile_beacons_are_refused_and_store_nothing(engine, products, case):
        shopper = Client()
        add_to_basket(shopper, products["KITE-1"])
        refuses_hostile_beacon(engine, shopper, "/basket/", str(basket_id(shopper)), case)

    def test_a_restore_into_a_new_basket_continues_the_journey(engine, clock, products):
        shopper = Client()
        add_to_basket(shopper, products["KITE-1"])
        cart_id = basket_id(shopper)
        guest_checkout_to_payment(shopper, email="frozen@example.com")
        clock.advance(timedelta(hours=2))
        engine.run_due()
        [m] = sent(engine, cart_id)
        restore = re.search(r"http://testserver(/cr/r/[A-Za-z0-9_-]+)", m["text"]).group(1)
        Basket.objects.filter(pk=cart_id).update(status=Basket.FROZEN)  # oscar froze it for a payment redirect
        phone = Client()
        assert phone.get(restore).status_code == 302
        new_id = basket_id(phone)
        assert new_id != cart_id
        assert [line.product.upc for line in Basket.objects.get(pk=new_id).lines.all()] == ["KITE-1"]
        engine.flush()
        assert engine.cart(str(new_id))["journey"]["flow"] == "cart-recovery"
        guest_checkout_to_payment(phone, email="other@example.com")
        r = phone.post("/checkout/preview/", {"action": "place_order"})
        assert r.status_code == 302 and "thank-you" in r["Location"], r.content[:2000]
        engine.flush()
        assert engine.cart(str(new_id))["state"] == "recovered"
        row = engine.report(by=())[0]
        assert row["orders"] == 1 and str(row["revenue"]) == str(Order.objects.get(basket_id=new_id).total_incl_tax)
        clock.advance(timedelta(days=5))
        engine.run_due()
        assert len(sent(engine, cart_id)) == 1
