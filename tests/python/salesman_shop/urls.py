from django.urls import include, path

from .shop import storefront

urlpatterns = [
    path("api/", include("salesman.urls")),
    path("cr/", include("cartrecovery.django.urls")),   # cartrecovery
    path("cart/", storefront),
    path("", storefront),
]
