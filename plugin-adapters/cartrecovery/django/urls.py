"""Include under the path BASE_URL names: path("cr/", include("cartrecovery.django.urls"))."""
from django.urls import path, re_path

from . import views

app_name = "cartrecovery"
urlpatterns = [
    path("b", views.beacon, name="beacon"),
    path("x", views.exit_intent, name="exit_intent"),
    path("cartrecovery.js", views.script, name="script"),
    path("dashboard/", views.dashboard, name="dashboard"),  # staff only
    re_path(r"^(?P<kind>o)/(?P<token>[A-Za-z0-9_-]+)\.gif$", views.link, name="open"),
    re_path(r"^(?P<kind>c)/(?P<token>[A-Za-z0-9_-]+)$", views.link, name="click"),
    re_path(r"^(?P<kind>r)/(?P<token>[A-Za-z0-9_-]+)$", views.link, name="restore"),
    re_path(r"^(?P<kind>u)/(?P<token>[A-Za-z0-9_-]+)$", views.link, name="unsubscribe"),
]
