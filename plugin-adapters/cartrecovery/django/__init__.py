"""Django app (Django 4.2 LTS and 5.x).

    INSTALLED_APPS += ["cartrecovery.django"]
    CARTRECOVERY = {
        "SECRET": env("CARTRECOVERY_SECRET"),          # or the CARTRECOVERY_SECRET env variable
        "BASE_URL": "https://shop.example/cr/",        # where the URLs below are mounted
        "STORE": "sqlite:////var/lib/shop/recovery.db",
        "RESTORE_CART": "shop.cart.rebuild_from_recovery",   # hook(request, cart) -> URL | None
        "CART_IS_ORDERED": "shop.orders.cart_is_ordered",    # hook(cart_id) -> bool
    }
    urlpatterns += [path("cr/", include("cartrecovery.django.urls"))]

In views: ``from cartrecovery.django import track``; ``track(request, "cart_updated",
cart_id=..., items=[...], currency="EUR")``. In templates: ``{% load cartrecovery %}
{% cartrecovery_script "product" product=p.sku cart_items=n %}``. Commands:
``manage.py cartrecovery worker | report | import_coupons | send_test``.

Settings are read through ``cartrecovery.web.AdapterSettings`` (precedence: code, then
``settings.CARTRECOVERY``, then ``CARTRECOVERY_*`` environment variables, then defaults). One
engine per process, opened on first use: never at import or in ``AppConfig.ready()``, so
``gunicorn --preload`` gives each worker its own.
"""
from __future__ import annotations

from typing import Any

try:
    import django  # noqa: F401
except ImportError as e:  # Django is an extra: say how to get it
    raise ImportError('cartrecovery.django needs Django (django is missing): '
                      'pip install "cartrecovery[django]"', name=e.name) from e

from .. import web

SESSION_VISITOR = "_cr_visitor"
SESSION_CART = "_cr_cart"

_cfg: web.AdapterSettings | None = None
_holder: web.EngineHolder | None = None


def get_setting(name: str) -> Any:
    """The one lookup helper for CARTRECOVERY settings (see cartrecovery.web.DEFAULTS)."""
    return config().get(name)


def config() -> web.AdapterSettings:
    global _cfg
    if _cfg is None:
        from django.conf import settings

        _cfg = web.AdapterSettings(getattr(settings, "CARTRECOVERY", None) or {})
    return _cfg


def _open_engine():
    return web.open_engine(config())


def engine():
    """This process's engine (opened on first use, reopened after a fork)."""
    global _holder
    if _holder is None:
        _holder = web.EngineHolder(_open_engine)
    return _holder.get()


def reset() -> None:
    """Forgets settings and closes the engine (tests; Django's setting_changed calls it)."""
    global _cfg, _holder
    holder, _holder, _cfg = _holder, None, None
    if holder is not None:
        holder.close()


def visitor_id(request) -> str:
    vid = request.session.get(SESSION_VISITOR)
    if not vid:
        vid = request.session[SESSION_VISITOR] = web.new_visitor_id()
    return vid


def track(request, type: str, **fields: Any) -> None:
    """engine.track() with what the request knows filled in: the visitor id, the session's
    cart (remembered from the last event that named one), the language from Accept-Language
    and the time zone the browser script reported."""
    if fields.get("cart_id"):
        request.session[SESSION_CART] = str(fields["cart_id"])
    event = web.fill_event(type, fields, visitor_id(request), request.session.get(SESSION_CART),
                           web.language_from_accept(request.META.get("HTTP_ACCEPT_LANGUAGE")),
                           web.valid_timezone(request.COOKIES.get("cr_tz")))
    engine().track(type, **event)


def script_tag(request, page_type: str | None = None, **data: Any) -> str:
    """The <script> element; carries the request's CSP nonce (django-csp's request.csp_nonce)."""
    from django.urls import reverse

    cfg = config()
    token = web.sign_visitor(cfg.get("SECRET"), visitor_id(request), request.session.get(SESSION_CART))
    nonce = getattr(request, "csp_nonce", None)
    return web.script_tag(reverse("cartrecovery:script"), reverse("cartrecovery:script").rsplit("/", 1)[0] + "/",
                          token, page_type, str(nonce) if nonce else None, **data)


__all__ = ["engine", "get_setting", "script_tag", "track", "visitor_id"]
