"""Salesman's basket in the engine's words, and back: the cart a basket is, the restore hook
that puts a shopper back on it, and the order check on salesman's Order table."""
from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.http import HttpRequest

from salesman.basket.models import BASKET_ID_SESSION_KEY
from salesman.conf import app_settings
from salesman.core.utils import get_salesman_model

log = logging.getLogger("cartrecovery.salesman")

# The key in an order's ``extra`` that names the cart (the basket) it was made from:
# salesman's Order keeps no link to its basket, and the basket is usually deleted.
ORDER_CART_KEY = "cartrecovery_cart"
# The key in a basket's ``extra`` the storefront sets with the e-mail: "remind me" (R3.7).
CONSENT_KEY = "cartrecovery_consent"


def cart_items(basket, request) -> list[dict]:
    """The basket's items as engine items, priced as salesman prices them for this request
    (its basket modifiers), the product's ``code`` as the SKU."""
    basket.update(request if request is not None else HttpRequest())
    items = []
    for item in basket.get_items():
        product = item.product
        if product is None:  # a product deleted under the basket is no longer in the cart
            continue
        entry = {"sku": str(product.code), "name": str(product.name)[:200],
                 "price": item.unit_price, "quantity": item.quantity}
        if hasattr(product, "get_absolute_url"):
            entry["url"] = product.get_absolute_url()
        items.append(entry)
    return items


def cart_event(basket, request=None) -> dict:
    """A ``cart_updated`` for the basket as it is now (no items: the cart was emptied)."""
    return {"cart_id": str(basket.pk), "items": cart_items(basket, request)}


def contact_event(basket) -> dict | None:
    """A ``contact_captured`` from the e-mail salesman keeps in the basket's extra, or None."""
    email = str(basket.extra.get("email") or "").strip()
    if not email:
        return None
    return {"cart_id": str(basket.pk), "email": email,
            "consent": {"email": basket.extra.get(CONSENT_KEY) in (True, "true", "on", "1", 1)}}


def request_basket_id(request) -> int | None:
    """The id of the basket salesman serves this request: the account's when signed in,
    else the one the session names (None when there is none yet)."""
    Basket = get_salesman_model("Basket")
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Basket.objects.filter(user=user).values_list("pk", flat=True).first()
    session = getattr(request, "session", None)
    return session.get(BASKET_ID_SESSION_KEY) if session is not None else None


def _product_for(sku: str):
    """The product whose ``code`` is the SKU, among SALESMAN_PRODUCT_TYPES that store one."""
    for label in app_settings.SALESMAN_PRODUCT_TYPES:
        model = apps.get_model(label)
        if any(f.name == "code" for f in model._meta.concrete_fields):
            product = model.objects.filter(code=sku).first()
            if product is not None:
                return product
    return None


def restore_basket(request, cart: dict):
    """RESTORE_CART for salesman. A guest gets the very basket back when it still is a guest
    basket (salesman's session key), so the cart keeps its id and its journey. A signed-in
    shopper gets it merged into the account's basket (salesman's own merge); a basket that
    is gone is rebuilt from the cart's items by product code. Either way the basket that
    now holds the items continues the original journey (the middleware tracks
    ``cart_updated(continues=...)`` after the view). Returns None: CART_URL is the
    storefront's basket page."""
    from .receivers import note_continues

    Basket = get_salesman_model("Basket")
    cart_id = str(cart["cart_id"])
    original = Basket.objects.filter(pk=int(cart_id)).first() if cart_id.isdigit() else None
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    if original is not None and original.user_id is None and not signed_in:
        request.session[BASKET_ID_SESSION_KEY] = original.pk
        return None
    basket, _ = Basket.objects.get_or_create_from_request(request)
    if original is not None and original.pk == basket.pk:
        return None  # the account's own basket: nothing to move
    if original is not None and original.user_id is None:
        basket.merge(original)
    else:
        for item in cart["items"]:
            product = _product_for(item["sku"])
            if product is None:
                log.warning("cartrecovery: restore: no product with code %r any more", item["sku"])
            elif basket.find(get_salesman_model("BasketItem").get_product_ref(product)) is None:
                basket.add(product, int(item["quantity"]))
    note_continues(request, basket.pk, cart_id)
    return None


def cart_is_ordered(cart_id: str, email: str | None) -> bool:
    """CART_IS_ORDERED for salesman (runs on the worker's thread): an order was made from
    this basket, or by this e-mail since the basket was created."""
    from django.db import close_old_connections

    Order = get_salesman_model("Order")
    Basket = get_salesman_model("Basket")
    close_old_connections()  # the worker's thread keeps its connection between reminders
    if Order.objects.filter(**{f"_extra__{ORDER_CART_KEY}": str(cart_id)}).exists():
        return True
    basket = Basket.objects.filter(pk=int(cart_id)).only("date_created").first() if str(cart_id).isdigit() else None
    if not email or basket is None:
        return False
    return Order.objects.filter(email__iexact=email, date_created__gte=basket.date_created).exists()


def order_event(order) -> dict[str, Any] | None:
    """An ``order_placed`` for the order, or None when it names neither cart nor e-mail."""
    event: dict[str, Any] = {"order_id": str(order.ref), "value": order.total}
    if order.extra.get(ORDER_CART_KEY):
        event["cart_id"] = str(order.extra[ORDER_CART_KEY])
    if order.email:
        event["email"] = order.email
    return event if ("cart_id" in event or "email" in event) else None
