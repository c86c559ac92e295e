"""A small Flask shop wired to cartrecovery through the Flask extension only.

    PYTHONPATH=plugin-adapters python examples/flask_shop/app.py     # then open http://127.0.0.1:5000

Starts on the embedded SQLite store, with a local SMTP sink (aiosmtpd) that keeps every mail
it receives; /mails lists them. DEMO_SPEED compresses time: with the default demo flow a cart
left alone for 30 seconds is abandoned and the first reminder arrives 10 seconds later.
"""
from __future__ import annotations

import argparse
import email
import email.policy
import threading
import uuid
from decimal import Decimal
from html import escape

from flask import Flask, redirect, render_template_string, request, session

import cartrecovery as cr
from cartrecovery.flask import CartRecovery, track

CATALOGUE = {
    "KITE-9": ("Kite Pro 9m", Decimal("649.00")),
    "BOARD-2": ("Twin-Tip Board", Decimal("249.00")),
    "HARNESS": ("Waist Harness", Decimal("129.00")),
}


def demo_flow(abandon_after: str = "30s", first: str = "10s") -> dict:
    """The compressed-time flow of the demo (DEMO_SPEED): seconds instead of hours."""
    return {"name": "demo", "abandon_after": abandon_after,
            "paths": [{"name": "everyone", "steps": [{"after": first, "channels": ["email"]},
                                                     {"after": "30s", "channels": ["email"]}]}]}

LAYOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }} | Kite Shop</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:40rem;margin:1rem auto">
<nav><a href="/">Catalogue</a> | <a href="/cart">Cart ({{ count }})</a> | <a href="/mails">Mails received</a></nav>
<h1>{{ title }}</h1>{{ body|safe }}
{{ cartrecovery_script(page, cart_items=count, product=product) }}</body></html>"""


class MailSink:
    """aiosmtpd handler: keeps every message (the demo's "inbox")."""

    def __init__(self):
        self.messages, self.lock = [], threading.Lock()

    async def handle_DATA(self, server, session_, envelope):
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def restore_cart(req, cart):
    session["items"] = {i["sku"]: int(i["quantity"]) for i in cart["items"] if i["sku"] in CATALOGUE}
    session["cart_id"] = cart["cart_id"]
    return "/cart"


def demo_staff(req):
    """DASHBOARD_AUTH for the demo (/cr/dashboard): whoever browses from this machine is
    staff. A real shop asks its own login, e.g. ``lambda request: current_user.is_staff``."""
    return req.remote_addr == "127.0.0.1"


def create_app(store="sqlite:///kite-shop.db", base_url="http://127.0.0.1:5000/cr/", smtp_port=None,
               sink=None, demo_speed=True, abandon_after="30s", first="10s") -> Flask:
    app = Flask(__name__)
    app.secret_key = "demo-only-not-secret"
    channels = (lambda: {"email": cr.SmtpChannel("127.0.0.1", smtp_port, starttls=False,
                                                 sender="Kite Shop <shop@kite.example>")}) if smtp_port else None
    app.config["CARTRECOVERY"] = {
        "SECRET": "demo-secret-change-me-0123456789", "BASE_URL": base_url, "STORE": store,
        "SHOP_NAME": "Kite Shop", "CHANNELS": channels, "RESTORE_CART": restore_cart, "CART_URL": "/cart",
        "FLOWS": [demo_flow(abandon_after, first)] if demo_speed else None,
        "ENGINE_SETTINGS": {"worker_idle_seconds": 0.5} if demo_speed else {},
        "DASHBOARD_AUTH": demo_staff,
    }
    CartRecovery(app)

    def items():
        return [{"sku": s, "name": CATALOGUE[s][0], "price": CATALOGUE[s][1], "quantity": q}
                for s, q in session.get("items", {}).items()]

    def page(title, page_type, body, product=None):
        return render_template_string(LAYOUT, title=title, page=page_type, body=body, product=product,
                                      count=sum(session.get("items", {}).values()))

    @app.get("/")
    def catalogue():
        rows = "".join(f'<li><a href="/p/{s}">{escape(n)}</a> {p} EUR</li>' for s, (n, p) in CATALOGUE.items())
        return page("Catalogue", "category", f"<ul>{rows}</ul>")

    @app.get("/p/<sku>")
    def product(sku):
        name, price = CATALOGUE[sku]
        return page(name, "product", f'<p>{price} EUR</p><form method="post" action="/cart/add">'
                    f'<input type="hidden" name="sku" value="{sku}"><button>Add to cart</button></form>', sku)

    @app.post("/cart/add")
    def add():
        session.setdefault("cart_id", uuid.uuid4().hex)
        cart = dict(session.get("items", {}))
        cart[request.form["sku"]] = cart.get(request.form["sku"], 0) + 1
        session["items"] = cart
        track("cart_updated", cart_id=session["cart_id"], items=items(), currency="EUR")
        return redirect("/cart")

    @app.get("/cart")
    def cart():
        rows = "".join(f"<li>{i['quantity']} x {escape(i['name'])}</li>" for i in items())
        body = f"<ul>{rows}</ul>" + ('<a href="/checkout">Checkout</a>' if rows else "<p>Empty.</p>")
        return page("Your cart", "cart", body)

    @app.route("/checkout", methods=["GET", "POST"])
    def checkout():
        if request.method == "POST":
            track("contact_captured", email=request.form["email"])
            track("checkout_stage", stage="shipping_address")
            return redirect("/checkout/shipping")
        track("checkout_stage", stage="contact")
        return page("Checkout: contact", "checkout", '<form method="post"><label for="email">E-mail</label> '
                    '<input id="email" name="email" type="email" required data-cr-capture="email"> '
                    '<button>Continue</button></form>')

    @app.route("/checkout/shipping", methods=["GET", "POST"])
    def shipping():
        if request.method == "POST":
            track("checkout_stage", stage="payment")
            return redirect("/checkout/pay")
        return page("Checkout: shipping", "checkout", '<form method="post"><label for="addr">Address</label> '
                    '<input id="addr" name="address" required> <button>Continue</button></form>')

    @app.route("/checkout/pay", methods=["GET", "POST"])
    def pay():
        if request.method == "POST":
            total = sum(i["price"] * i["quantity"] for i in items())
            order_id = "K-" + session["cart_id"][:6].upper()
            track("order_placed", order_id=order_id, value=total, currency="EUR")
            session.pop("items"), session.pop("cart_id")
            return redirect(f"/order/{order_id}")
        return page("Checkout: payment", "checkout", '<form method="post"><button>Pay now</button></form>')

    @app.get("/order/<order_id>")
    def order(order_id):
        return page(f"Order {order_id}", "other", "<p>Thank you for your order.</p>")

    @app.get("/mails")
    def mails():
        with sink.lock if sink else threading.Lock():
            msgs = list(sink.messages) if sink else []
        rows = "".join(f"<li><b>{escape(str(m['Subject']))}</b> to {escape(str(m['To']))}"
                       f"<pre style='white-space:pre-wrap'>{escape(m.get_body(('plain',)).get_content())}</pre></li>"
                       for m in msgs)
        return page("Mails received", "other", f"<p>{len(msgs)} mails</p><ol>{rows}</ol>")

    return app


def main(argv=None) -> None:
    from aiosmtpd.controller import Controller

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--smtp-port", type=int, default=8025)
    p.add_argument("--store", default="sqlite:///kite-shop.db")
    p.add_argument("--abandon-after", default="30s", help="demo time: a cart is abandoned after this")
    p.add_argument("--first-reminder", default="10s", help="demo time: first reminder this long after")
    args = p.parse_args(argv)
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=args.smtp_port)
    controller.start()
    app = create_app(args.store, f"http://127.0.0.1:{args.port}/cr/", args.smtp_port, sink,
                     abandon_after=args.abandon_after, first=args.first_reminder)
    with app.app_context():
        app.extensions["cartrecovery"].holder.get().start()  # the demo runs the worker in-process
    print(f"Kite Shop on http://127.0.0.1:{args.port}/  (mails: /mails, staff dashboard: /cr/dashboard, "
          f"SMTP sink on :{args.smtp_port})", flush=True)
    try:
        app.run("127.0.0.1", args.port, threaded=True)
    finally:
        app.extensions["cartrecovery"].holder.close()
        controller.stop()


if __name__ == "__main__":
    main()
