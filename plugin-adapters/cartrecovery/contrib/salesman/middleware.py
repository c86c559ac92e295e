"""SalesmanRecoveryMiddleware: what salesman's API views do not tell, read around them.

- it makes the request known to the model signal receivers (CurrentRequestMiddleware), and
  after the view tells each basket the request touched, once (receivers.flush);
- the storefront asking salesman's checkout for its payment methods (``GET /checkout/``),
  or a checkout whose payment failed (402), is the payment stage;
- every HTML page the shop renders gets the browser script before ``</body>``.
Put it after Django's session and auth middleware.
"""
from __future__ import annotations

import logging

from cartrecovery.django.middleware import CurrentRequestMiddleware, add_script

log = logging.getLogger("cartrecovery.salesman")

CHECKOUT_VIEW = "salesman-checkout-list"  # salesman's router: basename "salesman-checkout"


class SalesmanRecoveryMiddleware(CurrentRequestMiddleware):
    # Synchronous only: salesman's (Django REST framework's) views are.
    async_capable = False

    def __call__(self, request):
        from salesman.basket.models import BASKET_ID_SESSION_KEY

        session = getattr(request, "session", None)
        # The guest basket before the view: salesman deletes it when it merges it at sign-in.
        session_basket = session.get(BASKET_ID_SESSION_KEY) if session is not None else None
        response = super().__call__(request)
        try:
            self._after(request, response, session_basket)
        except Exception:
            log.exception("cartrecovery: %s %s not tracked", request.method, request.path)
        return response

    def _after(self, request, response, session_basket) -> None:
        from . import receivers

        receivers.flush(request, session_basket)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == CHECKOUT_VIEW and (
                (request.method == "GET" and response.status_code == 200)
                or (request.method == "POST" and response.status_code == 402)):
            self._payment_stage(request)
        add_script(request, response)

    @staticmethod
    def _payment_stage(request) -> None:
        from cartrecovery.django import track

        from .basket import request_basket_id
        from salesman.core.utils import get_salesman_model

        basket_id = request_basket_id(request)
        # An empty basket (salesman makes one for any visitor who asks) is no cart yet.
        if basket_id is not None and get_salesman_model("BasketItem").objects.filter(basket_id=basket_id).exists():
            track(request, "checkout_stage", cart_id=str(basket_id), stage="payment")
