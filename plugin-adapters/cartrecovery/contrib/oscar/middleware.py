"""OscarRecoveryMiddleware: what oscar's views do not tell, read around them.

- it makes the request known to the signal receivers (CurrentRequestMiddleware), and after
  the view tracks each basket whose lines changed, once;
- a checkout page reached (oscar's URL names) is a checkout stage; the gateway form's guest
  e-mail, with its consent checkbox, is the contact; a signed-in shopper's e-mail is too;
- every HTML page gets the browser script before ``</body>``, its page type from the URL
  name (no template of oscar's to override).
Put it after oscar's BasketMiddleware and Django's session and auth middleware.
"""
from __future__ import annotations

import logging

from cartrecovery.django.middleware import CurrentRequestMiddleware, add_script

log = logging.getLogger("cartrecovery.oscar")

STAGES = {"index": "contact", "shipping-address": "shipping_address",
          "shipping-method": "shipping_method", "payment-method": "payment",
          "payment-details": "payment", "preview": "payment"}
PAGE_TYPES = {"catalogue:detail": "product", "catalogue:category": "category", "catalogue:index": "category",
              "basket:summary": "cart", "home": "home", "promotions:home": "home"}


def page_type(match) -> str | None:
    if match is None:
        return None
    if match.view_name in PAGE_TYPES:
        return PAGE_TYPES[match.view_name]
    if match.namespace == "checkout":
        return "checkout"
    return "other"


class OscarRecoveryMiddleware(CurrentRequestMiddleware):
    # Synchronous only: oscar's views and basket middleware are.
    async_capable = False

    def __call__(self, request):
        response = super().__call__(request)
        try:
            self._after(request, response)
        except Exception:
            log.exception("cartrecovery: %s %s not tracked", request.method, request.path)
        return response

    def _after(self, request, response) -> None:
        from .receivers import track_basket_safely

        from cartrecovery.django import track

        for basket_id in getattr(request, "_cartrecovery_baskets", ()):
            track_basket_safely(basket_id, request)
        match = getattr(request, "resolver_match", None)
        basket = getattr(request, "basket", None)
        if match is not None and match.namespace == "checkout" and basket is not None and basket.pk:
            cart_id = str(basket.pk)
            if request.method == "POST" and match.url_name == "index" and response.status_code == 302:
                self._gateway_contact(request, cart_id)
            elif request.method == "GET" and response.status_code == 200 and match.url_name in STAGES:
                user = getattr(request, "user", None)
                if user is not None and user.is_authenticated and user.email:
                    track(request, "contact_captured", cart_id=cart_id, email=user.email)
                track(request, "checkout_stage", cart_id=cart_id, stage=STAGES[match.url_name])
        add_script(request, response, page_type(match))

    @staticmethod
    def _gateway_contact(request, cart_id: str) -> None:
        from cartrecovery.django import track

        email = request.POST.get("username", "").strip()
        if not email or request.POST.get("options") not in ("anonymous", "new"):
            return
        consent = request.POST.get("cartrecovery_consent") in ("on", "true", "1")
        try:
            track(request, "contact_captured", cart_id=cart_id, email=email, consent={"email": consent})
        except Exception as e:  # the engine refuses what Django's EmailField let through
            log.warning("cartrecovery: guest e-mail not tracked: %s", e)
