"""Checks at the Python edge: whatever a caller passes (wrong types, lone surrogates, bytes,
None in a list), the answer is a cartrecovery.Error subclass naming the field, never a
TypeError, UnicodeError or a bare RuntimeError from the binding layer."""
from __future__ import annotations

import math
import os
from datetime import timedelta
from decimal import Decimal
from typing import Any, Mapping

from . import _core


def validation_error(field: str, message: str) -> _core.ValidationError:
    err = _core.ValidationError(f"{field}: {message}")
    err.field = field
    return err


def config_error(field: str, message: str) -> _core.ConfigError:
    err = _core.ConfigError(f"{field}: {message}")
    err.field = field
    return err


def _type_name(value: Any) -> str:
    return type(value).__name__


def _utf8_problem(value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid text (it holds a lone surrogate)"
    return None


def text(value: Any, field: str, *, required: bool = False, error=validation_error) -> str | None:
    """A str that can travel as UTF-8 (None passes when not required)."""
    if value is None:
        if required:
            raise error(field, "is required")
        return None
    if not isinstance(value, str):
        raise error(field, f"expected a str, got {_type_name(value)}")
    problem = _utf8_problem(value)
    if problem:
        raise error(field, problem)
    if required and not value:
        raise error(field, "must not be empty")
    return value


def ident(value: Any, field: str, *, required: bool = False) -> str | None:
    """An id: a str, or an int (shops often number orders and carts)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(value, field, required=required)


def path_text(value: Any, field: str, error=validation_error) -> str:
    """A file path: str or os.PathLike."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        raise error(field, "expected a str path, got bytes")
    return text(value, field, required=True, error=error)


def whole_number(value: Any, field: str, *, minimum: int | None = None,
                 error=validation_error) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise error(field, f"expected a whole number, got {_type_name(value)} {value!r:.40}")
    if minimum is not None and value < minimum:
        raise error(field, f"must be at least {minimum}, not {value}")
    if value > 2 ** 62:
        raise error(field, "is too large")
    return value


def seconds(value: Any, field: str, error=config_error) -> float:
    """A duration in seconds: a number (int, float, Decimal) or a timedelta, >= 0, finite."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    elif isinstance(value, Decimal):
        value = float(value) if value.is_finite() else math.nan
    elif not isinstance(value, (int, float)) or isinstance(value, bool):
        raise error(field, f"expected seconds (a number or a timedelta), got {_type_name(value)}")
    if not math.isfinite(value) or value < 0 or value > 10 * 365 * 86400:
        raise error(field, f"must be a number of seconds between 0 and ten years, not {value!r}")
    return float(value)


def days(value: Any, field: str, error=config_error) -> float:
    """A retention window in days: a number >= 0 (0: keep for ever), finite."""
    if isinstance(value, Decimal):
        value = float(value) if value.is_finite() else math.nan
    elif not isinstance(value, (int, float)) or isinstance(value, bool):
        raise error(field, f"expected a number of days >= 0 (0: keep for ever), got {_type_name(value)}")
    if not math.isfinite(value) or value < 0 or value > 100 * 365:
        raise error(field, f"expected a number of days >= 0 (0: keep for ever), not {value!r}")
    return float(value)


def mapping(value: Any, field: str, error=validation_error) -> Mapping:
    if not isinstance(value, Mapping):
        raise error(field, f"expected a dict, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise error(field, f"keys must be str, got {_type_name(key)}")
        text(key, f"{field}.<key>", error=error)
    return value


# The engine settings by kind; API.md lists their meaning.
_TEXT_SETTINGS = {"shop_name", "base_url", "timezone", "currency", "contact_email", "contact_phone",
                  "chat_url", "default_language", "unsubscribe_mailto", "worker_id"}
_PATH_SETTINGS = {"templates", "outbox_directory"}
_COUNT_SETTINGS = {"queue_capacity": 1, "max_batch": 1, "max_attempts": 1, "max_events_per_cart": 0,
                   "retention_batch": 1, "render_threads": 0}
_SECONDS_SETTINGS = {"lease_seconds", "retry_base_seconds", "attribution_window_seconds",
                     "worker_idle_seconds", "link_ttl_seconds"}
_DICT_SETTINGS = {"policies", "sales_alert", "exit_intent"}
_DAYS_SETTINGS = {"retention_events_days", "retention_bodies_days", "retention_carts_days",
                  "retention_offers_days", "retention_reports_days"}


def setting(key: str, value: Any) -> Any:
    """One engine setting checked for its type; returns it normalised (seconds as float,
    paths as str). ConfigError names "settings.<key>"."""
    field = f"settings.{key}"
    if value is None:
        return None
    if key in _TEXT_SETTINGS:
        return text(value, field, error=config_error)
    if key in _PATH_SETTINGS:
        return path_text(value, field, error=config_error)
    if key in _COUNT_SETTINGS:
        return whole_number(value, field, minimum=_COUNT_SETTINGS[key], error=config_error)
    if key in _SECONDS_SETTINGS:
        return seconds(value, field)
    if key in _DAYS_SETTINGS:
        return days(value, field)
    if key in _DICT_SETTINGS:
        return _plain(mapping(value, field, error=config_error), field)
    if key == "secret":
        secrets = [value] if isinstance(value, str) else value
        if not isinstance(secrets, (list, tuple)) or not secrets:
            raise config_error(field, f"expected a str or a list of str, got {_type_name(value)}")
        return [text(s, f"{field}[{i}]", required=True, error=config_error)
                for i, s in enumerate(secrets)]
    if key == "incentive":
        # The one incentive budget (R4.4): a dict, True (the defaults) or False (none at all).
        if isinstance(value, bool):
            return value
        return _plain(mapping(value, field, error=config_error), field)
    if key == "coupon_pools":
        if not isinstance(value, (list, tuple)):
            raise config_error(field, f"expected a list of dicts, got {_type_name(value)}")
        return [_plain(mapping(p, f"{field}[{i}]", error=config_error), f"{field}[{i}]")
                for i, p in enumerate(value)]
    return value


def _plain(value: Any, field: str) -> Any:
    """A settings document made of str, int, bool, None, Decimal, float, lists and dicts
    (what the core reads), with every str encodable."""
    if isinstance(value, Mapping):
        return {text(k, f"{field}.<key>", required=True, error=config_error):
                _plain(v, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{field}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        return text(value, field, error=config_error)
    if value is None or isinstance(value, (bool, int, float, Decimal)):
        return value
    raise config_error(field, f"unsupported type {_type_name(value)}")
