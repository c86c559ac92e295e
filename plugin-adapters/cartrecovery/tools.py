"""Small helpers around messages: SMS length, VAPID keys, webhook signatures."""
from __future__ import annotations

import time

from . import _core


def sms_info(text: str) -> dict:
    """How ``text`` would travel as SMS: {"encoding": "gsm7" | "ucs2", "units", "segments",
    "chars"}. GSM-7 fits 160 septets in one message (153 per part when longer); one
    character outside it switches the whole text to UCS-2 (70, then 67 per part)."""
    return _core.sms_info(text)


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair for browser push: (private, public), base64url. Keep the private
    one secret (PushChannel); the public one is the page's applicationServerKey."""
    return _core.generate_vapid_keys()


def vapid_public_key(private_key: str) -> str:
    """The applicationServerKey (base64url) for a VAPID private key (PEM or base64url)."""
    return _core.vapid_public_key(private_key)


def verify_webhook_signature(secret: str, header: str, body: bytes,
                             now: float | None = None, tolerance_seconds: int = 300) -> bool:
    """For webhook receivers: True when the X-CartRecovery-Signature ``header`` signs the raw
    ``body`` with ``secret`` and is no older than ``tolerance_seconds``."""
    now_s = int(time.time() if now is None else now)
    return _core.verify_webhook_signature(secret, header, bytes(body), now_s, tolerance_seconds)


def public_holidays(country: str, year: int) -> list:
    """The built-in public holidays of ``country`` ("DE", "FR", "IR", "PL", "RO") in
    ``year``, as sorted ``datetime.date`` objects: the days quiet hours with ``"holidays":
    country`` keep quiet (Iran's are the Solar Hijri ones; add the lunar ones as ``dates``).
    Raises ValidationError for another country."""
    from datetime import date

    return [date.fromisoformat(d) for d in _core.public_holidays(country, int(year))]
