"""Oscar's basket in the engine's words, and back: the cart a basket is, the restore hook
that puts a shopper back on it, and the order check on oscar's Order table."""
from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.signing import Signer
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse

from oscar.core.loading import get_model

log = logging.getLogger("cartrecovery.oscar")


def cart_items(basket) -> list[dict]:
    """The basket's lines as engine items: price per unit including tax when oscar knows it,
    the product's UPC (else its partner SKU, else its id) as the SKU."""
    items = []
    for line in basket.lines.select_related("product", "stockrecord").order_by("date_created", "pk"):
        product = line.product
        price = line.price_incl_tax if line.price_incl_tax is not None else line.price_excl_tax
        if product is None or price is None:
            continue
        sku = product.upc or (line.stockrecord.partner_sku if line.stockrecord else "") or str(product.pk)
        item = {"sku": sku, "name": product.get_title()[:200], "price": price, "quantity": line.quantity}
        try:
            item["url"] = product.get_absolute_url()
        except Exception:  # a product without a URL pattern still is in the cart
            pass
        items.append(item)
    return items


def cart_event(basket) -> dict:
    """A ``cart_updated`` for the basket as it is now (no lines: the cart was emptied)."""
    lines = basket.lines.all()
    currency = next((line.price_currency for line in lines if line.price_currency), None)
    currency = currency or getattr(settings, "OSCAR_DEFAULT_CURRENCY", "EUR")
    return {"cart_id": str(basket.pk), "items": cart_items(basket), "currency": currency}


def _product_for(item: dict):
    Product = get_model("catalogue", "Product")
    return (Product.objects.filter(upc=item["sku"]).first()
            or Product.objects.filter(stockrecords__partner_sku=item["sku"]).first()
            or (Product.objects.filter(pk=item["sku"]).first() if str(item["sku"]).isdigit() else None))


def restore_basket(request, cart: dict):
    """RESTORE_CART for oscar. A guest gets the very basket back when it is still open (the
    signed cookie oscar's BasketMiddleware reads), so the cart keeps its id and its journey.
    A basket that was merged, frozen or submitted, or a signed-in shopper's own basket, gets
    the cart's lines and a ``cart_updated(continues=<the original>)``, so the engine carries
    the same journey on under the new id."""
    from cartrecovery.django import track

    Basket = get_model("basket", "Basket")
    target = reverse("basket:summary")
    original = Basket.objects.filter(pk=cart["cart_id"]).first() if str(cart["cart_id"]).isdigit() else None
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    if original is not None and original.status == Basket.OPEN and original.owner_id is None and not signed_in:
        response = HttpResponseRedirect(target)
        response.set_cookie(settings.OSCAR_BASKET_COOKIE_OPEN, Signer().sign(original.pk),
                            max_age=settings.OSCAR_BASKET_COOKIE_LIFETIME,
                            secure=settings.OSCAR_BASKET_COOKIE_SECURE, httponly=True)
        return response
    basket = request.basket  # oscar's middleware: the signed-in shopper's, or a new one
    if basket.pk is None:
        basket.save()
    for item in cart["items"]:
        product = _product_for(item)
        if product is None:
            log.warning("cartrecovery: restore: no product with SKU %r any more", item["sku"])
            continue
        if basket.product_quantity(product) == 0:
            basket.add_product(product, int(item["quantity"]))
    track(request, "cart_updated", **cart_event(basket), continues=str(cart["cart_id"]))
    response = HttpResponseRedirect(target)
    if not signed_in:
        response.set_cookie(settings.OSCAR_BASKET_COOKIE_OPEN, Signer().sign(basket.pk),
                            max_age=settings.OSCAR_BASKET_COOKIE_LIFETIME,
                            secure=settings.OSCAR_BASKET_COOKIE_SECURE, httponly=True)
    return response


def cart_is_ordered(cart_id: str, email: str | None) -> bool:
    """CART_IS_ORDERED for oscar (runs on the worker's thread): an order was placed from this
    basket, or by this e-mail since the basket was created."""
    from django.db import close_old_connections

    Order = get_model("order", "Order")
    Basket = get_model("basket", "Basket")
    close_old_connections()  # the worker's thread keeps its connection between reminders
    if not str(cart_id).isdigit():
        return False
    if Order.objects.filter(basket_id=int(cart_id)).exists():
        return True
    basket = Basket.objects.filter(pk=int(cart_id)).only("date_created").first()
    if not email or basket is None:
        return False
    return Order.objects.filter(Q(guest_email__iexact=email) | Q(user__email__iexact=email),
                                date_placed__gte=basket.date_created).exists()


def order_event(order) -> dict[str, Any]:
    event = {"order_id": str(order.number), "value": order.total_incl_tax, "currency": order.currency}
    if order.basket_id:
        event["cart_id"] = str(order.basket_id)
    if order.email:
        event["email"] = order.email
    return event
