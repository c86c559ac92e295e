"""A tiny shop wired to cartrecovery through the Django app only."""
import uuid
from decimal import Decimal

from django.dispatch import Signal, receiver
from django.http import HttpResponse, HttpResponseRedirect
from django.template import engines
from django.views.decorators.csrf import csrf_exempt

from cartrecovery.django import track, track_event

# What a framework the shop does not own sends (oscar's models do so): no request in it.
cart_emptied = Signal()

PRODUCTS = {"KITE-1": ("Kite Pro 9m", Decimal("19.99")), "BOARD-2": ("Twin-Tip Board", Decimal("249.00"))}
PAGE = engines["django"].from_string(
    "{% load cartrecovery %}<!doctype html><title>{{ title }}</title><h1>{{ title }}</h1>{{ body|safe }}"
    "{% cartrecovery_script page cart_items=count %}")


def rebuild_cart(request, cart):
    """RESTORE_CART hook: the restored cart's items go back into the session cart."""
    request.session["items"] = {i["sku"]: int(i["quantity"]) for i in cart["items"]}
    request.session["cart_id"] = cart["cart_id"]
    return None  # CART_URL


def _items(request):
    return [{"sku": s, "name": PRODUCTS[s][0], "price": PRODUCTS[s][1], "quantity": q}
            for s, q in request.session.get("items", {}).items()]


def page(request, title, page_type, body=""):
    return HttpResponse(PAGE.render({"title": title, "page": page_type, "body": body,
                                     "count": sum(request.session.get("items", {}).values())}, request))


def home(request):
    return page(request, "Kite Shop", "home")


def product(request, sku):
    return page(request, PRODUCTS[sku][0], "product")


@csrf_exempt
def add(request):
    request.session.setdefault("cart_id", uuid.uuid4().hex)
    items = dict(request.session.get("items", {}))
    items[request.POST["sku"]] = items.get(request.POST["sku"], 0) + 1
    request.session["items"] = items
    track(request, "cart_updated", cart_id=request.session["cart_id"], items=_items(request), currency="EUR")
    return HttpResponseRedirect("/cart/")


def cart(request):
    rows = "".join(f"<li>{i['quantity']} x {i['name']}</li>" for i in _items(request))
    return page(request, "Your cart", "cart", f"<ul>{rows}</ul>")


def checkout(request):
    track(request, "checkout_stage", stage="contact")
    return page(request, "Checkout", "checkout", '<input data-cr-capture="email">')


NEXT = {"contact": "shipping_address", "shipping": "shipping_method", "method": "payment"}


@csrf_exempt
def checkout_step(request, step):
    if step == "contact":
        track(request, "contact_captured", email=request.POST["email"])
    if step == "pay":
        value = sum(i["price"] * i["quantity"] for i in _items(request))
        order_id = "o-" + request.session["cart_id"][:8]
        track(request, "order_placed", order_id=order_id, cart_id=request.session["cart_id"], value=value,
              currency="EUR")
        request.session.pop("items")
        request.session.pop("cart_id")
        return HttpResponse(order_id)
    track(request, "checkout_stage", stage=NEXT[step])
    return HttpResponse("ok")


@csrf_exempt
def empty(request):
    request.session["items"] = {}
    cart_emptied.send(sender=None, cart_id=request.session["cart_id"])
    return HttpResponseRedirect("/cart/")


@receiver(cart_emptied)
def _on_cart_emptied(sender, cart_id, **kwargs):
    # No request here: the visitor and language come from the request being served.
    track_event("cart_updated", cart_id=cart_id, items=[], currency="EUR")


def consent_cookie(request):
    """TRACKING_CONSENT hook: the shop's banner sets consent=yes."""
    return request.COOKIES.get("consent") == "yes"
