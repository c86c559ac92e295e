"""Salesman's models to engine events. Salesman sends no signal for basket changes, so the
BasketItem and Basket models' own save/delete signals are used. Within a request what they
saw is noted on the request and told once, after the view (the middleware), as the basket
then is: one view may add, merge and delete, and only the end state means something.
Orders are told when they are made from a basket (salesman's ``create_from_basket``)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from salesman.core.utils import get_salesman_model
from salesman.orders.signals import status_changed

from .basket import ORDER_CART_KEY, cart_event, contact_event, order_event, request_basket_id

log = logging.getLogger("cartrecovery.salesman")


@dataclass
class Touched:
    """What one request did to baskets (ids as strings, as the engine's cart ids)."""
    changed: set[str] = field(default_factory=set)     # items added, changed or removed
    contacts: set[str] = field(default_factory=set)    # extra saved with an e-mail in it
    deleted: set[str] = field(default_factory=set)
    ordered: set[str] = field(default_factory=set)     # an order was made from it
    continues: dict[str, str] = field(default_factory=dict)  # basket -> the cart it carries on


def touched(request) -> Touched:
    found = getattr(request, "_cartrecovery_salesman", None)
    if found is None:
        found = request._cartrecovery_salesman = Touched()
    return found


def note_continues(request, basket_id, cart_id: str) -> None:
    touched(request).continues[str(basket_id)] = str(cart_id)


def _safely(what: str, fn, *args, **kwargs) -> None:
    """Never into salesman's view: an engine refusal is logged with what was refused."""
    try:
        fn(*args, **kwargs)
    except Exception:
        log.exception("cartrecovery: %s not tracked", what)


def track_basket(basket_id: str, request=None, continues: str | None = None) -> None:
    from cartrecovery.django import track_event

    basket = get_salesman_model("Basket").objects.filter(pk=int(basket_id)).first()
    if basket is None:
        return
    fields = cart_event(basket, request)
    if continues:
        fields["continues"] = continues
    track_event("cart_updated", request=request, **fields)


def track_contact(basket_id: str, request=None) -> None:
    from cartrecovery.django import track_event

    basket = get_salesman_model("Basket").objects.filter(pk=int(basket_id)).first()
    event = contact_event(basket) if basket is not None else None
    if event is not None:
        track_event("contact_captured", request=request, **event)


def track_emptied(basket_id: str, request) -> None:
    from cartrecovery.django import track_event

    track_event("cart_updated", request=request, cart_id=basket_id, items=[])


def flush(request, session_basket) -> None:
    """After the view: each basket the request touched, told once, as it now is."""
    done = getattr(request, "_cartrecovery_salesman", None)
    if done is None:
        return
    user = getattr(request, "user", None)
    before = str(session_basket) if session_basket else None
    if before in done.deleted and before not in done.ordered and user is not None and user.is_authenticated:
        # Salesman merged the guest's session basket into the account's at sign-in.
        merged_into = request_basket_id(request)
        if merged_into is not None:
            done.continues.setdefault(str(merged_into), before)
    for basket_id, cart_id in done.continues.items():
        _safely(f"basket {basket_id}", track_basket, basket_id, request, continues=cart_id)
    for basket_id in sorted(done.changed - done.deleted - set(done.continues)):
        _safely(f"basket {basket_id}", track_basket, basket_id, request)
    for basket_id in sorted(done.contacts - done.deleted):
        _safely(f"the e-mail of basket {basket_id}", track_contact, basket_id, request)
    # A basket deleted without an order (the storefront's DELETE /basket/) was emptied; one
    # merged into another lives on there.
    for basket_id in sorted(done.deleted - done.ordered - set(done.continues.values())):
        _safely(f"basket {basket_id}", track_emptied, basket_id, request)


def _note_or_commit(basket_id, kind: str, later) -> None:
    from cartrecovery.django.middleware import current_request

    if basket_id is None:
        return
    request = current_request()
    if request is not None:
        getattr(touched(request), kind).add(str(basket_id))
    elif later is not None:  # a shell, a task: tell it once the change is committed
        transaction.on_commit(lambda: _safely(f"basket {basket_id}", later, str(basket_id)))


def on_item_changed(sender, instance, **kwargs) -> None:
    _note_or_commit(instance.basket_id, "changed", track_basket)


def on_basket_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if (update_fields is None or "extra" in update_fields) and instance.extra.get("email"):
        _note_or_commit(instance.pk, "contacts", track_contact)


def on_basket_deleted(sender, instance, **kwargs) -> None:
    # Outside a request (a clean-up job) a deleted basket says nothing about the shopper.
    _note_or_commit(instance.pk, "deleted", None)


def on_order_saved(sender, instance, created, **kwargs) -> None:
    if created and instance.status != instance.Status.NEW:
        placed(instance)  # create_from_basket(..., status=...): made and filled in one save


def on_status_changed(sender, order, new_status, old_status, **kwargs) -> None:
    if old_status == order.Status.NEW:
        placed(order)  # create_from_request(), then populate_from_basket()


def placed(order) -> None:
    """An order made from the basket this request serves: it keeps the cart's id (the
    marker that it was told, too) and ends the journey once its transaction commits."""
    from cartrecovery.django.middleware import current_request

    if ORDER_CART_KEY in (order.extra or {}):
        return
    request = current_request()
    basket_id = request_basket_id(request) if request is not None else None
    # A new dict: populate_from_basket() shares the basket's extra with the order.
    order.extra = {**(order.extra or {}), ORDER_CART_KEY: str(basket_id) if basket_id else ""}
    order.save(update_fields=["extra"])
    if request is not None and basket_id is not None:
        touched(request).ordered.add(str(basket_id))
    event = order_event(order)
    if event is None:
        return

    def track() -> None:
        from cartrecovery.django import track_event

        track_event("order_placed", request=request, **event)

    transaction.on_commit(lambda: _safely(f"order {event['order_id']}", track))


def connect() -> None:
    Basket = get_salesman_model("Basket")
    BasketItem = get_salesman_model("BasketItem")
    Order = get_salesman_model("Order")
    uid = "cartrecovery.salesman."
    post_save.connect(on_item_changed, sender=BasketItem, dispatch_uid=uid + "item_saved")
    post_delete.connect(on_item_changed, sender=BasketItem, dispatch_uid=uid + "item_deleted")
    post_save.connect(on_basket_saved, sender=Basket, dispatch_uid=uid + "basket_saved")
    post_delete.connect(on_basket_deleted, sender=Basket, dispatch_uid=uid + "basket_deleted")
    post_save.connect(on_order_saved, sender=Order, dispatch_uid=uid + "order_saved")
    status_changed.connect(on_status_changed, dispatch_uid=uid + "status_changed")
