"""A small Django shop wired to cartrecovery through the Django app only (one file).

    PYTHONPATH=plugin-adapters python examples/django_shop/shop.py    # then open http://127.0.0.1:8000

Starts on the embedded SQLite store with a local SMTP sink (aiosmtpd) that keeps every mail
it receives; /mails lists them. Time is compressed for the demo: a cart left alone for 30
seconds is abandoned and its first reminder arrives 10 seconds later.
"""
from __future__ import annotations

import argparse
import email
import email.policy
import sys
import threading
import uuid
from decimal import Decimal
from html import escape
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server

import django
from django.conf import settings

CATALOGUE = {
    "KITE-9": ("Kite Pro 9m", Decimal("649.00")),
    "BOARD-2": ("Twin-Tip Board", Decimal("249.00")),
    "HARNESS": ("Waist Harness", Decimal("129.00")),
}
SINK = None  # the demo's inbox (MailSink), set by main()


class MailSink:
    """aiosmtpd handler: keeps every message (the demo's "inbox")."""

    def __init__(self):
        self.messages, self.lock = [], threading.Lock()

    async def handle_DATA(self, server, session_, envelope):
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def demo_flow(abandon_after: str, first: str) -> dict:
    return {"name": "demo", "abandon_after": abandon_after,
            "paths": [{"name": "everyone", "steps": [{"after": first, "channels": ["email"]},
                                                     {"after": "30s", "channels": ["email"]}]}]}


def configure(port: int, smtp_port: int, store: str, abandon_after: str, first: str) -> None:
    import cartrecovery as cr

    settings.configure(
        DEBUG=False,
        SECRET_KEY="demo-only-not-secret",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.sessions", "cartrecovery.django"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware",
                    f"{__name__}.demo_staff"],
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",  # no database needed
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
                    "OPTIONS": {"context_processors": ["django.template.context_processors.request"]}}],
        DATABASES={},
        USE_TZ=True,
        LOGGING={"version": 1, "disable_existing_loggers": False,
                 "handlers": {"console": {"class": "logging.StreamHandler"}},
                 "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}}},
        CARTRECOVERY={
            "SECRET": "demo-secret-change-me-0123456789",
            "BASE_URL": f"http://127.0.0.1:{port}/cr/",
            "STORE": store,
            "SHOP_NAME": "Kite Shop",
            "CHANNELS": lambda: {"email": cr.SmtpChannel("127.0.0.1", smtp_port, starttls=False,
                                                         sender="Kite Shop <shop@kite.example>")},
            "RESTORE_CART": f"{__name__}.restore_cart",
            "CART_URL": "/cart/",
            "FLOWS": [demo_flow(abandon_after, first)],
            "ENGINE_SETTINGS": {"worker_idle_seconds": 0.5},
        },
    )
    django.setup()


class _DemoStaff:
    """The demo has no user database: whoever browses from this machine is staff. A real shop
    uses django.contrib.auth, whose request.user the dashboard checks the same way."""
    is_authenticated = is_active = is_staff = True

    def get_username(self) -> str:
        return "demo"


def demo_staff(get_response):
    """Middleware standing in for AuthenticationMiddleware, for /cr/dashboard/ in the demo."""
    def middleware(request):
        if request.META.get("REMOTE_ADDR") == "127.0.0.1":
            request.user = _DemoStaff()
        return get_response(request)
    return middleware


# ---- views (after settings: they import Django's HTTP and template machinery) ------------
def restore_cart(request, cart):
    """RESTORE_CART hook: the restored cart's items go back into the session cart."""
    request.session["items"] = {i["sku"]: int(i["quantity"]) for i in cart["items"] if i["sku"] in CATALOGUE}
    request.session["cart_id"] = cart["cart_id"]
    return None  # then CART_URL


def _items(request):
    return [{"sku": s, "name": CATALOGUE[s][0], "price": CATALOGUE[s][1], "quantity": q}
            for s, q in request.session.get("items", {}).items()]


def _page(request, title, page_type, body, product=None):
    from django.http import HttpResponse
    from django.template import engines

    layout = engines["django"].from_string(
        "{% load cartrecovery %}<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>{{ title }} | Kite Shop</title></head>"
        "<body style='font-family:sans-serif;max-width:40rem;margin:1rem auto'>"
        "<nav><a href='/'>Catalogue</a> | <a href='/cart/'>Cart ({{ count }})</a> | "
        "<a href='/mails'>Mails received</a></nav><h1>{{ title }}</h1>{{ body|safe }}"
        "{% cartrecovery_script page cart_items=count product=product %}</body></html>")
    count = sum(request.session.get("items", {}).values())
    return HttpResponse(layout.render({"title": title, "page": page_type, "body": body,
                                       "count": count, "product": product}, request))


def _form(request, inner):
    from django.middleware.csrf import get_token

    return (f'<form method="post"><input type="hidden" name="csrfmiddlewaretoken" '
            f'value="{get_token(request)}">{inner}</form>')


def catalogue(request):
    rows = "".join(f'<li><a href="/p/{s}">{escape(n)}</a> {p} EUR</li>' for s, (n, p) in CATALOGUE.items())
    return _page(request, "Catalogue", "category", f"<ul>{rows}</ul>")


def product(request, sku):
    name, price = CATALOGUE[sku]
    form = _form(request, f'<input type="hidden" name="sku" value="{sku}"><button>Add to cart</button>')
    form = form.replace('<form method="post">', '<form method="post" action="/cart/add">')
    return _page(request, name, "product", f"<p>{price} EUR</p>{form}", sku)


def add(request):
    from django.http import HttpResponseRedirect

    from cartrecovery.django import track

    request.session.setdefault("cart_id", uuid.uuid4().hex)
    items = dict(request.session.get("items", {}))
    items[request.POST["sku"]] = items.get(request.POST["sku"], 0) + 1
    request.session["items"] = items
    track(request, "cart_updated", cart_id=request.session["cart_id"], items=_items(request), currency="EUR")
    return HttpResponseRedirect("/cart/")


def cart(request):
    rows = "".join(f"<li>{i['quantity']} x {escape(i['name'])}</li>" for i in _items(request))
    body = f"<ul>{rows}</ul>" + ('<a href="/checkout">Checkout</a>' if rows else "<p>Empty.</p>")
    return _page(request, "Your cart", "cart", body)


def checkout(request):
    from django.http import HttpResponseRedirect

    from cartrecovery.django import track

    if request.method == "POST":
        track(request, "contact_captured", email=request.POST["email"])
        track(request, "checkout_stage", stage="shipping_address")
        return HttpResponseRedirect("/checkout/shipping")
    track(request, "checkout_stage", stage="contact")
    return _page(request, "Checkout: contact", "checkout", _form(
        request, '<label for="email">E-mail</label> <input id="email" name="email" type="email" '
                 'required data-cr-capture="email"> <button>Continue</button>'))


def shipping(request):
    from django.http import HttpResponseRedirect

    from cartrecovery.django import track

    if request.method == "POST":
        track(request, "checkout_stage", stage="payment")
        return HttpResponseRedirect("/checkout/pay")
    return _page(request, "Checkout: shipping", "checkout", _form(
        request, '<label for="addr">Address</label> <input id="addr" name="address" required> '
                 '<button>Continue</button>'))


def pay(request):
    from django.http import HttpResponseRedirect

    from cartrecovery.django import track

    if request.method == "POST":
        total = sum(i["price"] * i["quantity"] for i in _items(request))
        order_id = "D-" + request.session["cart_id"][:6].upper()
        track(request, "order_placed", order_id=order_id, value=total, currency="EUR")
        request.session.pop("items")
        request.session.pop("cart_id")
        return HttpResponseRedirect(f"/order/{order_id}")
    return _page(request, "Checkout: payment", "checkout", _form(request, "<button>Pay now</button>"))


def order(request, order_id):
    return _page(request, f"Order {order_id}", "other", "<p>Thank you for your order.</p>")


def mails(request):
    with SINK.lock:
        msgs = list(SINK.messages)
    rows = "".join(f"<li><b>{escape(str(m['Subject']))}</b> to {escape(str(m['To']))}"
                   f"<pre style='white-space:pre-wrap'>{escape(m.get_body(('plain',)).get_content())}</pre></li>"
                   for m in msgs)
    return _page(request, "Mails received", "other", f"<p>{len(msgs)} mails</p><ol>{rows}</ol>")


def _urls():
    from django.urls import include, path

    return [
        path("", catalogue), path("p/<str:sku>", product), path("cart/add", add), path("cart/", cart),
        path("checkout", checkout), path("checkout/shipping", shipping), path("checkout/pay", pay),
        path("order/<str:order_id>", order), path("mails", mails),
        path("cr/", include("cartrecovery.django.urls")),
    ]


def __getattr__(name):  # ROOT_URLCONF = this module: urlpatterns are built once Django is set up
    if name == "urlpatterns":
        return _urls()
    raise AttributeError(name)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main(argv=None) -> None:
    global SINK
    from aiosmtpd.controller import Controller

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--smtp-port", type=int, default=8026)
    p.add_argument("--store", default="sqlite:///kite-shop-django.db")
    p.add_argument("--abandon-after", default="30s", help="demo time: a cart is abandoned after this")
    p.add_argument("--first-reminder", default="10s", help="demo time: first reminder this long after")
    args = p.parse_args(argv)
    SINK = MailSink()
    controller = Controller(SINK, hostname="127.0.0.1", port=args.smtp_port)
    controller.start()
    configure(args.port, args.smtp_port, args.store, args.abandon_after, args.first_reminder)
    from django.core.wsgi import get_wsgi_application

    import cartrecovery.django as crd

    crd.engine().start()  # the demo runs the worker in-process
    server = make_server("127.0.0.1", args.port, get_wsgi_application(), server_class=_ThreadingServer)
    print(f"Kite Shop (Django) on http://127.0.0.1:{args.port}/  (mails: /mails, staff dashboard: "
          f"/cr/dashboard/, SMTP sink on :{args.smtp_port})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        crd.engine().close()
        controller.stop()


if __name__ == "__main__":
    sys.modules.setdefault("shop", sys.modules[__name__])
    main()
