"""Django app (Django 4.2 LTS and 5.x).

    INSTALLED_APPS += ["cartrecovery.django"]
    CARTRECOVERY = {
        "SECRET": env("CARTRECOVERY_SECRET"),          # or the CARTRECOVERY_SECRET env variable
        "BASE_URL": "https://shop.example/cr/",        # where the URLs below are mounted
        "STORE": "sqlite:////var/lib/shop/recovery.db",
        "RESTORE_CART": "shop.cart.rebuild_from_recovery",   # hook(request, cart) -> URL | None
        "CART_IS_ORDERED": "shop.orders.cart_is_ordered",    # hook(cart_id, email) -> bool
    }
    urlpatterns += [path("cr/", include("cartrecovery.django.urls"))]

In views: ``from cartrecovery.django import track``; ``track(request, "cart_updated",
cart_id=..., items=[...], currency="EUR")``. In templates: ``{% load cartrecovery %}
{% cartrecovery_script "product" product=p.sku cart_items=n %}``. Commands:
``manage.py cartrecovery status | worker | report | send-test | import-coupons | replay |
export-events`` (the same commands and flags as the ``cartrecovery`` command line).

Settings are read through ``cartrecovery.web.AdapterSettings`` (precedence: code, then
``settings.CARTRECOVERY``, then ``CARTRECOVERY_*`` environment variables, then defaults). A
bad setting raises ``cartrecovery.django.ConfigError``: both a ``cartrecovery.ConfigError``
and Django's ``ImproperlyConfigured``. One engine per process, opened on first use: never at
import or in ``AppConfig.ready()``, so ``gunicorn --preload`` gives each worker its own.
"""
from __future__ import annotations

from typing import Any

try:
    from django.core.exceptions import ImproperlyConfigured
except ImportError as e:  # Django is an extra: say how to get it
    raise ImportError('cartrecovery.django needs Django (django is missing): '
                      'pip install "cartrecovery[django]"', name=e.name) from e

from .. import _core, web


class ConfigError(_core.ConfigError, ImproperlyConfigured):
    """A bad CARTRECOVERY setting, as Django reports its own configuration mistakes."""

SESSION_VISITOR = "_cr_visitor"
SESSION_CART = "_cr_cart"

_cfg: web.AdapterSettings | None = None
_holder: web.EngineHolder | None = None
_app_defaults: dict[str, Any] = {}


def set_app_defaults(**values: Any) -> None:
    """Defaults an integration app supplies (``cartrecovery.contrib.oscar`` sets its restore
    hook and order check from its ``ready()``); the shop's CARTRECOVERY settings win."""
    global _cfg
    _app_defaults.update({k.upper(): v for k, v in values.items()})
    _cfg = None


def get_setting(name: str) -> Any:
    """The one lookup helper for CARTRECOVERY settings (see cartrecovery.web.DEFAULTS)."""
    return config().get(name)


def config() -> web.AdapterSettings:
    global _cfg
    if _cfg is None:
        from django.conf import settings

        _cfg = web.AdapterSettings(getattr(settings, "CARTRECOVERY", None) or {},
                                   config_error=ConfigError, app_defaults=_app_defaults)
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


def tracking_allowed(request) -> bool:
    """False while TRACKING_CONSENT says this visitor has not agreed (see web/consent.py)."""
    return web.tracking_allowed(config(), request)


def track(request, type: str, **fields: Any) -> bool:
    """engine.track() with what the request knows filled in: the visitor id, the session's
    cart (remembered from the last event that named one), the language from Accept-Language
    and the time zone the browser script reported. Returns False, having stored nothing and
    made no session, while the visitor has not consented (TRACKING_CONSENT); orders and
    unsubscribes are tracked all the same, without the visitor. Invalid fields raise
    ``cartrecovery.ValidationError``."""
    if not tracking_allowed(request):
        if type not in web.WITHOUT_CONSENT:
            return False
        engine().track(type, **fields)
        return True
    if fields.get("cart_id"):
        request.session[SESSION_CART] = str(fields["cart_id"])
    event = web.fill_event(type, fields, visitor_id(request), request.session.get(SESSION_CART),
                           web.language_from_accept(request.META.get("HTTP_ACCEPT_LANGUAGE")),
                           web.valid_timezone(request.COOKIES.get("cr_tz")))
    engine().track(type, **event)
    return True


def track_event(type: str, *, request=None, visitor_id: str | None = None, language: str | None = None,
                timezone: str | None = None, **fields: Any) -> bool:
    """engine.track() from code that is not handed a request: signal receivers, model hooks,
    tasks. The visitor, cart and language come from ``request`` when given, else from the
    request being served (``CurrentRequestMiddleware``), else from the arguments; what the
    caller passes always wins. Returns False when nothing was stored for lack of consent.
    Runs on the caller's thread and returns in microseconds (the engine's writer commits);
    invalid fields raise ``cartrecovery.ValidationError``: a receiver sent with Django's
    ``send_robust`` would swallow it, so catch and log it there."""
    if request is None:
        from .middleware import current_request

        request = current_request()
    given = {k: v for k, v in (("visitor_id", visitor_id), ("language", language),
                                ("timezone", timezone)) if v}
    if request is not None and hasattr(request, "session"):
        return track(request, type, **fields, **given)
    event = web.fill_event(type, fields, visitor_id, None, language, timezone)
    engine().track(type, **event)
    return True


def script_tag(request, page_type: str | None = None, **data: Any) -> str:
    """The <script> element; carries the request's CSP nonce (django-csp's request.csp_nonce).
    Empty, and no session made, while the visitor has not consented (TRACKING_CONSENT)."""
    from django.urls import reverse

    if not tracking_allowed(request):
        return ""
    cfg = config()
    token = web.sign_visitor(cfg.get("SECRET"), visitor_id(request), request.session.get(SESSION_CART))
    nonce = getattr(request, "csp_nonce", None)
    src = reverse("cartrecovery:script")
    return web.script_tag(src, src.rsplit("/", 1)[0] + "/", token, page_type, str(nonce) if nonce else None, **data)


__all__ = ["ConfigError", "engine", "get_setting", "script_tag", "track", "track_event",
           "tracking_allowed", "visitor_id"]
