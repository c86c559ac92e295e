"""A tiny Flask shop wired to cartrecovery through the Flask extension only; used by the
Flask adapter tests (test client) and the browser tests (served by werkzeug)."""
from __future__ import annotations

import uuid
from decimal import Decimal
from urllib.parse import urlencode

from flask import Flask, redirect, render_template_string, request, session

from cartrecovery.flask import CartRecovery, track, track_event

PRODUCTS = {"KITE-1": ("Kite Pro 9m", Decimal("19.99")), "BOARD-2": ("Twin-Tip Board", Decimal("249.00"))}
SECRET = "test-secret-0123456789"

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="icon" href="data:,"></head><body><h1>{{ title }}</h1>{{ body|safe }}
{{ cartrecovery_script(page, cart_items=cart_count, product=product) }}</body></html>"""


def rebuild_cart(request, cart):
    """RESTORE_CART hook: the restored cart's items go back into the session cart."""
    session["items"] = {i["sku"]: int(i["quantity"]) for i in cart["items"]}
    session["cart_id"] = cart["cart_id"]
    return "/cart"


# The shop's own users, for the staff dashboard (DASHBOARD_AUTH=staff_only).
USERS = {"ann": "staff", "bob": "customer"}


def staff_only(req):
    """DASHBOARD_AUTH hook: staff pass; anyone else is sent to log in, or refused when
    logged in but not staff."""
    role = USERS.get(session.get("user"))
    if role is None:
        return redirect("/login?" + urlencode({"next": req.path}))
    return role == "staff"


def cart_emptied(cart_id):
    """What a framework the shop does not own calls (a model hook): no request handed in."""
    track_event("cart_updated", cart_id=cart_id, items=[], currency="EUR")


def consent_cookie(req):
    """TRACKING_CONSENT hook: the shop's banner sets consent=yes."""
    return req.cookies.get("consent") == "yes"


def _items():
    return [{"sku": sku, "name": PRODUCTS[sku][0], "price": PRODUCTS[sku][1], "quantity": q}
            for sku, q in session.get("items", {}).items()]


def create_app(store: str, base_url: str = "http://localhost/cr/", **overrides) -> Flask:
    app = Flask(__name__)
    app.secret_key = "flask-test-shop"
    app.config["CARTRECOVERY"] = {"SECRET": SECRET, "BASE_URL": base_url, "STORE": store,
                                  "SHOP_NAME": "Kite Shop", "RESTORE_CART": rebuild_cart,
                                  "CART_URL": "/cart"}
    recovery = CartRecovery(app, **overrides)
    app.extensions["test_recovery"] = recovery

    def page(title, page_type, body, product=None):
        return render_template_string(PAGE, title=title, page=page_type, body=body, product=product,
                                      cart_count=sum(session.get("items", {}).values()))

    def cart_changed():
        track("cart_updated", cart_id=session["cart_id"], items=_items(), currency="EUR")

    @app.get("/")
    def home():
        links = "".join(f'<a href="/p/{s}">{n}</a> ' for s, (n, _) in PRODUCTS.items())
        return page("Kite Shop", "home", links)

    @app.get("/p/<sku>")
    def product(sku):
        name, price = PRODUCTS[sku]
        return page(name, "product", f'<form method="post" action="/cart/add"><input type="hidden" name="sku" value="{sku}">'
                    f'<button id="add">Add ({price} EUR)</button></form>', product=sku)

    @app.post("/cart/add")
    def add():
        session.setdefault("cart_id", uuid.uuid4().hex)
        items = dict(session.get("items", {}))
        items[request.form["sku"]] = items.get(request.form["sku"], 0) + 1
        session["items"] = items
        cart_changed()
        return redirect("/cart")

    @app.post("/cart/empty")
    def empty():
        session["items"] = {}
        cart_emptied(session["cart_id"])
        return redirect("/cart")

    @app.get("/cart")
    def cart():
        rows = "".join(f"<li class=item>{i['quantity']} x {i['name']}</li>" for i in _items())
        return page("Your cart", "cart", f'<ul>{rows}</ul><a id="checkout" href="/checkout">Checkout</a>')

    @app.get("/checkout")
    def checkout():
        track("checkout_stage", stage="contact")
        return page("Checkout", "checkout", """<form method="post" action="/checkout/contact">
          <label for="email">E-mail</label><input id="email" name="email" type="email" data-cr-capture="email">
          <label for="phone">Phone</label><input id="phone" name="phone" data-cr-capture="phone">
          <button id="next">Continue</button></form>""")

    @app.post("/checkout/contact")
    def contact():
        track("contact_captured", email=request.form["email"])
        track("checkout_stage", stage="shipping_address")
        return "ok"

    @app.post("/checkout/shipping")
    def shipping():
        track("checkout_stage", stage="shipping_method")
        return "ok"

    @app.post("/checkout/method")
    def method():
        track("checkout_stage", stage="payment")
        return "ok"

    @app.route("/login", methods=["GET", "POST"])
    def login():
        # A stand-in for the shop's login: whoever types a known user name is that user.
        if request.method == "POST" and request.form.get("user") in USERS:
            session["user"] = request.form["user"]
            target = request.args.get("next") or "/"
            return redirect(target if target.startswith("/") and not target.startswith("//") else "/")
        return page("Log in", "other", '<form method="post"><input id="user" name="user" aria-label="User">'
                    '<button id="login">Log in</button></form>')

    @app.post("/checkout/pay")
    def pay():
        value = sum(i["price"] * i["quantity"] for i in _items())
        order_id = "o-" + session["cart_id"][:8]
        track("order_placed", order_id=order_id, cart_id=session["cart_id"], value=value, currency="EUR")
        session.pop("items", None)
        session.pop("cart_id", None)
        return order_id

    return app
