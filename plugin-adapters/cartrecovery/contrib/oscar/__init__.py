"""django-oscar, wired by settings alone.

    INSTALLED_APPS += ["cartrecovery.django", "cartrecovery.contrib.oscar"]
    MIDDLEWARE += ["cartrecovery.contrib.oscar.middleware.OscarRecoveryMiddleware"]  # after oscar's BasketMiddleware
    CARTRECOVERY = {"SECRET": ..., "BASE_URL": "https://shop.example/cr/", "STORE": ...}
    urlpatterns += [path("cr/", include("cartrecovery.django.urls"))]

What it does, through oscar's own views and signals:
- basket lines added, changed or removed (model signals on oscar's basket Line) become
  ``cart_updated`` with the basket as it is (an emptied basket ends the journey);
- the checkout pages a shopper reaches become checkout stages, and the guest e-mail of
  oscar's gateway form becomes the contact, with the consent checkbox this app adds to that
  form (``cartrecovery_consent``);
- ``order_placed`` (oscar's signal, after the order's transaction commits) ends the journey;
- restore links put the shopper back on the same basket (oscar's signed basket cookie), or,
  when that basket was merged or submitted, on a new one that continues the same journey;
- the order check (CART_IS_ORDERED) asks oscar's Order table;
- the browser script is added to every HTML page oscar renders, with the page type taken
  from oscar's URL names.
The shop's own CARTRECOVERY settings win over each of these defaults. Errors in the
signal receivers are logged (logger "cartrecovery.oscar"), never raised into oscar's
checkout.
"""
default_app_config = "cartrecovery.contrib.oscar.apps.OscarRecoveryConfig"
