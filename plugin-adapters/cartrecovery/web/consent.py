"""The consent-gated mode (TRACKING_CONSENT): nothing about a visitor is stored, and no
session is made for one, until the shop's consent banner says yes.

``TRACKING_CONSENT`` is None (not gated: the default) or a ``hook(request) -> bool`` that
reads the shop's own consent record (a cookie its banner sets, a user preference). While it
says no: the template tag renders nothing and touches no session, beacons and exit-intent
requests are refused (403), and ``track()`` stores nothing, except the events that only
stop messages (an order, an unsubscribe), which go without any visitor identity.
"""
from __future__ import annotations

from typing import Any

from .settings import AdapterSettings

# Events that never describe browsing: they end journeys or suppress an address, so they
# are kept whatever the consent (an order must stop reminders even for a shopper who
# declined tracking).
WITHOUT_CONSENT = frozenset({"order_placed", "unsubscribed"})
REFUSED = "tracking consent not given"


def tracking_allowed(cfg: AdapterSettings, request: Any) -> bool:
    """True when not gated, or when the shop's hook says this request's visitor agreed."""
    hook = cfg.hook("TRACKING_CONSENT")
    return hook is None or bool(hook(request))
