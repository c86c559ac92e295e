"""Oscar's signals to engine events. Oscar sends no signal when a line's quantity changes
or a line is removed, so the basket Line model's own save/delete signals are used; within a
request the basket is tracked once, after the view (the middleware), as it then is."""
from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from oscar.core.loading import get_model

log = logging.getLogger("cartrecovery.oscar")


def _track_basket(basket_id: int, request=None) -> None:
    from cartrecovery.django import track_event

    from .basket import cart_event

    Basket = get_model("basket", "Basket")
    basket = Basket.objects.filter(pk=basket_id).first()
    if basket is not None and basket.status in (Basket.OPEN, Basket.SAVED):
        track_event("cart_updated", request=request, **cart_event(basket))


def track_basket_safely(basket_id: int, request=None) -> None:
    """Never into oscar's view: an engine refusal is logged with what was refused. After
    the view the current request is gone: the middleware hands it in (the visitor)."""
    try:
        _track_basket(basket_id, request)
    except Exception:
        log.exception("cartrecovery: basket %s not tracked", basket_id)


def on_line_changed(sender, instance, **kwargs) -> None:
    from cartrecovery.django.middleware import current_request

    basket_id = instance.basket_id
    if basket_id is None:
        return
    request = current_request()
    if request is not None:
        # Several lines change in one view (a formset): track the basket once, after it.
        request._cartrecovery_baskets = getattr(request, "_cartrecovery_baskets", set()) | {basket_id}
    else:
        transaction.on_commit(lambda: track_basket_safely(basket_id))


def on_order_placed(sender, order, user=None, **kwargs) -> None:
    from .basket import order_event

    event = order_event(order)

    def track() -> None:
        from cartrecovery.django import track_event

        try:
            track_event("order_placed", **event)
        except Exception:
            log.exception("cartrecovery: order %s not tracked", event["order_id"])

    transaction.on_commit(track)  # only an order that was really placed ends the journey


def add_consent_field() -> None:
    """The checkbox on oscar's gateway form a guest ticks to get a reminder (R3.7)."""
    from django import forms
    from django.utils.translation import gettext_lazy as _
    from oscar.apps.checkout.forms import GatewayForm

    GatewayForm.base_fields.setdefault("cartrecovery_consent", forms.BooleanField(
        required=False, label=_("E-mail me a reminder if I leave my basket")))


def connect() -> None:
    from oscar.apps.order.signals import order_placed

    Line = get_model("basket", "Line")
    post_save.connect(on_line_changed, sender=Line, dispatch_uid="cartrecovery.oscar.line_saved")
    post_delete.connect(on_line_changed, sender=Line, dispatch_uid="cartrecovery.oscar.line_deleted")
    order_placed.connect(on_order_placed, dispatch_uid="cartrecovery.oscar.order_placed")
    add_consent_field()
