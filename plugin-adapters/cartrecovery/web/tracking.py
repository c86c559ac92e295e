"""Events the shop's own code tracks: what the request (or the caller) knows is added to
the fields the shop passed, never overriding them."""
from __future__ import annotations

_TAKES_VISITOR = {"cart_updated", "contact_captured", "checkout_stage", "page_view",
                  "order_placed", "push_subscribed"}
_TAKES_CART = {"contact_captured", "checkout_stage", "order_placed", "page_view", "push_subscribed"}


def fill_event(type: str, fields: dict, visitor_id: str | None, cart_id: str | None,
               language: str | None, timezone: str | None) -> dict:
    """The visitor id, the session's cart, and for contacts the language (Accept-Language)
    and time zone (reported by the script), each only when known and not already given."""
    out = dict(fields)
    if type in _TAKES_VISITOR and visitor_id and not out.get("visitor_id"):
        out["visitor_id"] = visitor_id
    if type in _TAKES_CART and cart_id and not out.get("cart_id"):
        out["cart_id"] = cart_id
    if type == "contact_captured":
        if language and not out.get("language"):
            out["language"] = language
        if timezone and not out.get("timezone"):
            out["timezone"] = timezone
    return out
