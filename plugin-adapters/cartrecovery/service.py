"""The worker as a service: its settings from a file, the environment and the command line.

The layering is the core's (Poco Util's LayeredConfiguration, cartrecovery/worker_config.h):
``--set key=value`` over ``CARTRECOVERY_<KEY>`` over the file over defaults. Keys are the
Engine's settings names plus ``store``, ``flows`` (comma-separated JSON files) and
``smtp_*``. This module only turns the resolved values into an Engine's arguments.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import _core
from .channels import Channel, SmtpChannel
from .engine import _SETTINGS
from .flows import Flow

_SERVICE_KEYS = {"store", "flows"}


@dataclass
class ServiceConfig:
    store: str
    flows: list = field(default_factory=list)
    channels: dict | None = None
    settings: dict = field(default_factory=dict)
    origins: dict = field(default_factory=dict)  # key -> where its value came from

    def engine(self, **kwargs: Any):
        from .engine import Engine

        return Engine(store=self.store, flows=self.flows or None, channels=self.channels,
                      settings=self.settings, **kwargs)


def _config_error(key: str, message: str) -> _core.ConfigError:
    err = _core.ConfigError(message)
    err.field = key
    return err


def load_service_config(file: str | None = None, sets: list[str] | None = None,
                        environ: Mapping[str, str] | None = None) -> ServiceConfig:
    """Resolves the service's settings; ConfigError names the key and where it came from."""
    env = dict(os.environ if environ is None else environ)
    resolved = _core.load_worker_config(file or "", env, list(sets or []))
    values = {k: v for k, (v, _) in resolved.items()}
    origins = {k: o for k, (_, o) in resolved.items()}

    flows = []
    for path in (p.strip() for p in values.pop("flows", "").split(",")):
        if path:
            if not os.path.isfile(path):
                raise _config_error("flows", f"flows ({origins['flows']}): no flow file at {path}")
            flows.append(Flow.from_file(path))

    channels: dict[str, Channel] | None = None
    smtp = {k[len("smtp_"):]: values.pop(k) for k in list(values) if k.startswith("smtp_")}
    if smtp.get("host"):
        security = smtp.get("security", "starttls")
        if security not in ("starttls", "ssl", "plain"):
            raise _config_error("smtp_security", f"smtp_security ({origins['smtp_security']}): "
                                f"{security!r} is not one of starttls, ssl, plain")
        connections = int(smtp.get("connections", 4))
        if not 1 <= connections <= 64:
            raise _config_error("smtp_connections", f"smtp_connections ({origins['smtp_connections']}): "
                                f"{connections} is not 1..64")
        channels = {"email": SmtpChannel(
            smtp["host"], smtp.get("port", 587), username=smtp.get("username") or None,
            password=smtp.get("password") or None, starttls=security == "starttls",
            ssl=security == "ssl", sender=smtp.get("sender"),
            timeout=smtp.get("timeout_seconds", 10), connections=connections)}

    settings: dict[str, Any] = {}
    for key, value in values.items():
        if key in _SERVICE_KEYS:
            continue
        if key not in _SETTINGS:  # a key the core knows and this package does not: a bug
            raise _config_error(key, f"{key}: not an Engine setting")
        if key in ("policies", "sales_alert", "coupon_pools", "exit_intent", "incentive"):
            try:
                value = json.loads(value)
            except ValueError as e:
                raise _config_error(key, f"{key} ({origins[key]}): not JSON ({e.msg} at {e.pos})") from None
        settings[key] = value
    return ServiceConfig(store=values["store"], flows=flows, channels=channels,
                         settings=settings, origins=origins)
