"""Channels deliver rendered messages. Any channel name a flow uses ("email", "sms",
"push", ...) can be bound to any of these; policies apply by the name."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Callable

from . import _core
from ._time import to_ms


def _count(value, name: str) -> int:
    """A whole number setting (connections, concurrency); the core checks its range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _core.ConfigError(f"{name}: expected a whole number, got {value!r}")
    return value


class Channel:
    """Base of the channel classes; wraps a core channel."""

    _native: _core.Channel

    def describe(self) -> str:
        return self._native.describe()

    def send_test(self, to: str, subject: str = "Test message", text: str = "It works.",
                  html: str = "", date: datetime | None = None) -> None:
        """Sends one message now, outside any flow (R6.2: try a channel before going live),
        dated `date` (default: now). Raises DeliveryError with .transient when the server
        refuses it."""
        self._send({"message_id": "test", "to": to, "subject": subject, "text": text, "html": html,
                    "date": date})

    def _send(self, message: dict) -> None:
        """Sends a message dict (the CallbackChannel form) through this channel now. Its
        `date` (aware datetime) or `date_ms` dates it; without either, the current time does
        (never 1 January 1970)."""
        message = dict(message)
        date = message.pop("date", None)
        if date is not None:
            message["date_ms"] = to_ms(date, "date")
        elif message.get("date_ms") is None:
            message["date_ms"] = int(time.time() * 1000)
        _core.channel_send(self._native, message)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class SmtpChannel(Channel):
    """E-mail over SMTP (Poco::Net): plain, STARTTLS (default, fails closed) or implicit SSL.
    `connections` (1..64, default 4): sessions kept open at once; the worker delivers a
    batch's e-mails on that many in parallel (1: one message at a time)."""

    def __init__(self, host: str, port: int = 587, username: str | None = None,
                 password: str | None = None, starttls: bool = True, ssl: bool = False,
                 sender: str = "Shop <shop@example.com>", reply_to: str | None = None,
                 timeout: float = 10, verify_certificate: bool = True, connections: int = 4):
        if starttls and ssl:
            raise _core.ConfigError("starttls and ssl exclude each other (ssl is TLS from the first byte)")
        self._native = _core.smtp_channel(host, int(port), username or "", password or "",
                                          bool(starttls), bool(ssl), bool(verify_certificate),
                                          sender, reply_to or "", float(timeout),
                                          _count(connections, "connections"))


class OutboxChannel(Channel):
    """Keeps messages in the store (they count as sent) and, given a directory, also writes
    each as <message_id>.eml there."""

    def __init__(self, directory: str | None = None):
        self.directory = directory
        self._native = _core.outbox_channel(str(directory) if directory else "")


class CallbackChannel(Channel):
    """Hands each rendered message, as a dict (message_id, channel, to, to_name, subject,
    text, html, headers, date: the message's time as an aware UTC datetime, date_ms: the
    same in milliseconds, data: the cart as a dict for non-mail channels, else None), to fn:
    e.g. a Django shop's own mail backend. fn runs on the
    worker's thread. Raising DeliveryError with transient=False fails the message; any other
    exception is retried later. fn is called for one message at a time unless `concurrency`
    (default 1) asks for more: then up to that many calls run at once, interleaving under
    the GIL (worth it only when fn waits on I/O), and fn must be thread-safe."""

    def __init__(self, fn: Callable[[dict], object], *, concurrency: int = 1):
        if not callable(fn):
            raise TypeError("CallbackChannel needs a callable")
        self.fn = fn
        self._native = _core.callback_channel(fn, _count(concurrency, "concurrency"))


class SmsChannel(Channel):
    """SMS through any HTTP provider: the request (URL, method, auth, body fields with
    {to} {from} {text} {message_id} placeholders) is configurable; see twilio() for a preset.
    429/5xx replies are retried (honouring Retry-After), other 4xx fail the message.
    `connections` (1..64, default 4): requests under way at once, on kept connections."""

    def __init__(self, url: str, *, sender: str = "", method: str = "POST", auth: str = "none",
                 username: str = "", password: str = "", token: str = "",
                 headers: dict | None = None, body_format: str = "form",
                 body: dict | None = None, max_segments: int = 10, timeout: float = 10,
                 verify_certificate: bool = True, ca_file: str | None = None,
                 connections: int = 4):
        self._native = _core.sms_channel(url, method, auth, username, password, token,
                                         list((headers or {}).items()), body_format,
                                         list((body or {}).items()), sender, int(max_segments),
                                         float(timeout), bool(verify_certificate), ca_file or "",
                                         _count(connections, "connections"))

    @classmethod
    def twilio(cls, account_sid: str, auth_token: str, sender: str, *,
               base_url: str = "https://api.twilio.com", timeout: float = 10,
               verify_certificate: bool = True, ca_file: str | None = None,
               connections: int = 4) -> "SmsChannel":
        """Twilio's Messages API (form fields To, From, Body; basic auth)."""
        channel = cls.__new__(cls)
        channel._native = _core.twilio_sms_channel(account_sid, auth_token, sender, base_url,
                                                   float(timeout), bool(verify_certificate),
                                                   ca_file or "", _count(connections, "connections"))
        return channel


class WebhookChannel(Channel):
    """POSTs the abandoned cart as JSON to a URL (Zapier-style), signed:
    X-CartRecovery-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
    Receivers check it with cartrecovery.verify_webhook_signature(). `connections` (1..64,
    default 4): requests under way at once, on kept connections."""

    def __init__(self, url: str, secret: str, *, headers: dict | None = None, timeout: float = 10,
                 verify_certificate: bool = True, ca_file: str | None = None,
                 connections: int = 4):
        self._native = _core.webhook_channel(url, secret, list((headers or {}).items()),
                                             float(timeout), bool(verify_certificate), ca_file or "",
                                             _count(connections, "connections"))


class PushChannel(Channel):
    """Browser push (Web Push: RFC 8291 encryption, RFC 8292 VAPID). Bind it to the channel
    name "push"; shops send the browser's subscription as a "push_subscribed" event."""

    def __init__(self, vapid_private_key: str, vapid_subject: str, *, ttl: int = 86400,
                 urgency: str = "normal", topic: str = "", timeout: float = 10,
                 verify_certificate: bool = True, ca_file: str | None = None):
        self._native = _core.push_channel(vapid_private_key, vapid_subject, int(ttl), urgency,
                                          topic, float(timeout), bool(verify_certificate),
                                          ca_file or "")
