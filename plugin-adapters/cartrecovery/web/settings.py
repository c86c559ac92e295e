"""The adapters' settings: one lookup with a documented precedence, no framework imported.

Precedence, first found wins:
  1. keyword arguments given in code (``CartRecovery(app, secret=...)``; tests),
  2. the framework's settings dict: Django ``settings.CARTRECOVERY["SECRET"]``,
     Flask ``app.config["CARTRECOVERY"]["SECRET"]`` (or ``app.config["CARTRECOVERY_SECRET"]``),
  3. the environment: ``CARTRECOVERY_SECRET`` (so secrets can stay out of settings files),
  4. what an integration app supplies (``cartrecovery.contrib.oscar``, ``.salesman`` fill RESTORE_CART,
     CART_IS_ORDERED, ...: ``app_defaults``),
  5. the default below.
An unknown key in the settings dict is an error (a typo would otherwise do nothing).
"""
from __future__ import annotations

import importlib
import os
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from .. import _core
from .request import origin_of

DEFAULTS: dict[str, Any] = {
    "STORE": "sqlite:///recovery.db",   # engine store URL
    "SECRET": None,                     # >= 16 bytes; signs links and visitor tokens
    "BASE_URL": None,                   # absolute URL where the adapter's URLs are mounted
    "SHOP_NAME": "Our shop",
    "TIMEZONE": None,                   # the shop's IANA time zone
    "FLOWS": None,                      # flows for Engine(flows=...): objects, dicts, paths
    "CHANNELS": None,                   # dict name -> Channel, or a callable returning one
    "ENGINE_SETTINGS": {},              # more Engine settings (contact_email, ...)
    "CLOCK": None,                      # a ManualClock (tests, demos)
    "RESTORE_CART": None,               # hook(request, cart: dict) -> URL, a response, or None
    "CART_IS_ORDERED": None,            # hook(cart_id: str, email: str | None) -> bool
    "CART_URL": "/cart/",               # where restore-cart sends the shopper afterwards
    "ALLOWED_ORIGINS": (),              # extra origins allowed to post beacons
    "MAX_BODY_BYTES": 8192,             # beacon / exit-intent body limit
    "MAX_EVENTS_PER_BEACON": 20,
    "RATE_LIMITS": {},                  # abuse.py: per visitor / per address, JSON depth
    "TOKEN_MAX_AGE": 7 * 24 * 3600,     # seconds a visitor token stays valid
    "TRACK_ANYMAIL": True,              # Django: listen to django-anymail's tracking signal
    "DASHBOARD_AUTH": None,             # Flask: hook(request) -> True for staff (Django: is_staff)
    "SUPPRESS_SEND": None,              # Flask: None -> suppressed while app.testing
    "TRACKING_CONSENT": None,           # hook(request) -> bool; None: tracking not gated
}

ENV_PREFIX = "CARTRECOVERY_"
_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def secret_bytes(s: str | bytes) -> bytes:
    return s if isinstance(s, bytes) else str(s).encode()


class AdapterSettings:
    """Reads settings with the precedence above. ``source`` is the framework's dict.
    ``config_error`` is the class raised for a bad setting: ``cartrecovery.ConfigError``, or
    a subclass that is also the framework's own (Django's ImproperlyConfigured)."""

    def __init__(self, source: Mapping[str, Any] | None = None,
                 overrides: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None,
                 config_error: type[Exception] = _core.ConfigError,
                 app_defaults: Mapping[str, Any] | None = None):
        self.config_error = config_error
        self.app_defaults = dict(app_defaults or {})
        self.source = dict(source or {})
        self.overrides = {k.upper(): v for k, v in (overrides or {}).items()}
        self.environ = os.environ if environ is None else environ
        for key in list(self.source) + list(self.overrides) + list(self.app_defaults):
            if key not in DEFAULTS:
                raise self.error(key, f"unknown setting (known: {', '.join(sorted(DEFAULTS))})")

    def error(self, name: str, message: str) -> Exception:
        err = self.config_error(f"CARTRECOVERY[{name!r}]: {message}")
        err.field = name
        return err

    def get(self, name: str) -> Any:
        name = name.upper()
        if name not in DEFAULTS:
            raise KeyError(name)
        for layer in (self.overrides, self.source):
            value = layer.get(name, _MISSING)
            if value is not _MISSING:
                return value
        env = self.environ.get(ENV_PREFIX + name)
        if env is None or isinstance(DEFAULTS[name], (dict, tuple)):
            return self.app_defaults.get(name, DEFAULTS[name])
        return self._from_environment(name, env)

    def _from_environment(self, name: str, text: str) -> Any:
        default = DEFAULTS[name]
        # bool before int: bool is an int, and bool("0") is True.
        if isinstance(default, bool) or name == "SUPPRESS_SEND":
            word = text.strip().lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
            raise self.config_error(f"{ENV_PREFIX}{name}={text!r}: expected 1/0, true/false, yes/no or on/off")
        if isinstance(default, int):
            try:
                return int(text)
            except ValueError:
                raise self.config_error(f"{ENV_PREFIX}{name}={text!r}: expected a whole number") from None
        return text

    def hook(self, name: str) -> Callable | None:
        """A hook setting: a callable, or a dotted path "package.module.function"."""
        value = self.get(name)
        if value is None or callable(value):
            return value
        if isinstance(value, str):
            module, _, attr = value.rpartition(".")
            try:
                return getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError, ValueError) as e:
                raise self.error(name, f"cannot import {value!r}: {e}") from e
        raise self.error(name, "expected a callable or a dotted path")

    def problems(self) -> list[str]:
        """What makes the adapter unusable; the system check / init_app reports these."""
        out = []
        secret = self.get("SECRET")
        if not secret:
            out.append("SECRET is not set: links and visitor tokens cannot be signed "
                       "(set CARTRECOVERY['SECRET'] or the CARTRECOVERY_SECRET environment variable)")
        elif len(secret_bytes(secret)) < 16:
            out.append("SECRET is shorter than 16 bytes")
        base = self.get("BASE_URL")
        if not base:
            out.append("BASE_URL is not set: reminders cannot link back to the shop "
                       "(e.g. 'https://shop.example/cr/', where the adapter's URLs are mounted)")
        else:
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
                out.append(f"BASE_URL {base!r} must be an absolute http(s) URL without query or fragment")
        from .. import abuse
        try:
            abuse.Limits(self.get("RATE_LIMITS"))
        except _core.ConfigError as e:
            out.append(str(e))
        return out

    def engine_kwargs(self) -> dict:
        settings = dict(self.get("ENGINE_SETTINGS") or {})
        settings.setdefault("shop_name", self.get("SHOP_NAME"))
        for key in ("SECRET", "BASE_URL", "TIMEZONE"):
            if self.get(key):
                settings.setdefault(key.lower(), self.get(key))
        return {"store": self.get("STORE"), "flows": self.get("FLOWS"), "channels": self.channels(),
                "clock": self.get("CLOCK"), "settings": settings}

    def channels(self) -> dict | None:
        channels = self.get("CHANNELS")
        if callable(channels):
            channels = channels()  # channels are native objects: build them in this process
        return channels


def mount_path(cfg: AdapterSettings, default: str = "/cr/") -> str:
    """The URL path the adapter's endpoints live under: BASE_URL's path ("/cr/")."""
    base = cfg.get("BASE_URL")
    path = urlsplit(base).path if base else default
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def allowed_origins(cfg: AdapterSettings) -> tuple:
    extra = tuple(cfg.get("ALLOWED_ORIGINS") or ())
    base = origin_of(cfg.get("BASE_URL"))
    return extra + ((base,) if base else ())
