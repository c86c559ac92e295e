"""cartrecovery: abandoned-cart recovery for Python shops.

    import cartrecovery as cr
    engine = cr.Engine(store="sqlite:///recovery.db", settings={"shop_name": "Kite Shop"})
    engine.track("cart_updated", cart_id="c1", items=[...], currency="EUR")

The recovery core is C++ (``cartrecovery._core``, private); this package is its Pythonic
face. See API.md in the project for the contract.
"""
from ._core import (  # noqa: F401  (the error tree is defined once, in bindings/errors.cpp)
    ConfigError,
    DeliveryError,
    Error,
    QueueFullError,
    StoreError,
    ValidationError,
)
from .channels import CallbackChannel, Channel, OutboxChannel, SmtpChannel
from .clock import ManualClock
from .engine import Engine
from .flows import Branch, Flow, Path, Step, default_flow

__version__ = "0.1.0"

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
    "QueueFullError",
    "SmtpChannel",
    "Step",
    "StoreError",
    "ValidationError",
    "default_flow",
]
