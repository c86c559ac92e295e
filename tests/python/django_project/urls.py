from django.urls import include, path

from . import shop

urlpatterns = [
    path("cr/", include("cartrecovery.django.urls")),
    path("", shop.home),
    path("p/<str:sku>/", shop.product),
    path("cart/add/", shop.add),
    path("cart/", shop.cart),
    path("cart/empty/", shop.empty),
    path("checkout/", shop.checkout),
    path("checkout/<str:step>/", shop.checkout_step),
]
