"""cartrecovery: abandoned-cart recovery for Python shops.

    import cartrecovery as cr
    engine = cr.Engine(store="sqlite:///recovery.db", settings={"shop_name": "Kite Shop"})
    engine.track("cart_updated", cart_id="c1", items=[...], currency="EUR")

The recovery core is C++ (``cartrecovery._core``, private); this package is its Pythonic
face. See API.md in the project for the contract.
"""
from . import _sqlite_link  # noqa: F401  (first: _core binds the SQLite Python loaded)
from ._core import (  # noqa: F401  (the error tree is defined once, in bindings/errors.cpp)
    ConfigError,
    DeliveryError,
    Error,
    QueueFullError,
    StoreError,
    ValidationError,
)
from .channels import (
    CallbackChannel,
    Channel,
    OutboxChannel,
    PushChannel,
    SmsChannel,
    SmtpChannel,
    WebhookChannel,
)
from .clock import ManualClock
from .engine import Engine
from .flows import Branch, Flow, Path, Step, Variant, default_flow
from .tools import (generate_vapid_keys, public_holidays, sms_info, vapid_public_key,
                    verify_webhook_signature)

from ._version import __version__

__all__ = [
    "Branch",
    "CallbackChannel",
    "Channel",
    "ConfigError",
    "DeliveryError",
    "Engine",
    "Error",
    "Flow",
    "ManualClock",
    "OutboxChannel",
    "Path",
    "PushChannel",
    "SmsChannel",
    "QueueFullError",
    "SmtpChannel",
    "Step",
    "Variant",
    "StoreError",
    "ValidationError",
    "WebhookChannel",
    "default_flow",
    "generate_vapid_keys",
    "public_holidays",
    "sms_info",
    "vapid_public_key",
    "verify_webhook_signature",
]
