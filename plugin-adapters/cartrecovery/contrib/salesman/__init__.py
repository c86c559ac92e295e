"""django-salesman (the headless shop for Django and Wagtail), wired by settings alone.

    INSTALLED_APPS += ["cartrecovery.django", "cartrecovery.contrib.salesman"]
    MIDDLEWARE += ["cartrecovery.contrib.salesman.middleware.SalesmanRecoveryMiddleware"]  # after sessions, auth
    CARTRECOVERY = {"SECRET": ..., "BASE_URL": "https://shop.example/cr/", "STORE": ...}
    urlpatterns += [path("cr/", include("cartrecovery.django.urls"))]

What it does, through salesman's own API views and models:
- basket items added, changed or removed (model signals on salesman's BasketItem) become
  ``cart_updated`` with the basket as it is, priced by salesman's basket modifiers; a basket
  cleared or deleted by the shopper ends the journey as emptied;
- the e-mail in the basket's ``extra`` (where salesman keeps it until the order: the
  storefront's ``PUT /basket/extra/`` or the checkout) becomes the contact, with consent
  when the same ``extra`` holds ``"cartrecovery_consent": true``; the storefront asking
  ``GET /checkout/`` for payment methods is the payment stage;
- an order made from a basket (salesman's ``create_from_basket``, after its transaction
  commits) ends the journey; the order keeps the cart's id in its ``extra``
  (``cartrecovery_cart``), so the order check (CART_IS_ORDERED) asks salesman's Order table;
- a guest's session basket merged into the account's basket at sign-in carries the same
  journey on under the account basket's id;
- restore links put the shopper back on the very basket (salesman's session key), or, when
  it is gone or belongs to an account, into the shopper's basket under a new id that
  continues the same journey;
- the browser script is added to every HTML page the shop renders.
Salesman knows no currency: events go without one, so the engine uses the shop's own
(``ENGINE_SETTINGS``). Errors are logged (logger "cartrecovery.salesman"), never raised
into salesman's views.
"""
try:
    import salesman  # noqa: F401
except ImportError as e:  # django-salesman is an extra: say how to get it
    raise ImportError('cartrecovery.contrib.salesman needs django-salesman (salesman is missing): '
                      'pip install "cartrecovery[salesman]"', name=e.name) from e
