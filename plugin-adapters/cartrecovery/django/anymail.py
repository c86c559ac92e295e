"""django-anymail tracking: opens, clicks and bounces reported by the e-mail provider go back
to the engine. Reminders sent through ``django_mail_channel()`` carry their message id as
anymail metadata (``cartrecovery_message_id``), which the provider echoes in its webhook.
Providers retry webhooks, so each event id is handled once (Django's cache remembers the
ids; use a shared cache such as Redis or the database cache with several web processes)."""
from __future__ import annotations

import logging

from . import config, engine

log = logging.getLogger("cartrecovery.django")
METADATA_KEY = "cartrecovery_message_id"
_SEEN_TTL = 7 * 24 * 3600


def connect() -> bool:
    if not config().get("TRACK_ANYMAIL"):
        return False
    try:
        from anymail.signals import tracking
    except ImportError:
        return False
    tracking.connect(on_tracking, weak=False, dispatch_uid="cartrecovery.anymail")
    return True


def _first_time(event_id: str | None) -> bool:
    if not event_id:
        return True
    from django.core.cache import cache

    return cache.add(f"cartrecovery:anymail:{event_id}", 1, _SEEN_TTL)


def on_tracking(sender=None, event=None, esp_name=None, **kwargs) -> str | None:
    """Receiver for anymail.signals.tracking; returns what it did (for tests and logs)."""
    metadata = getattr(event, "metadata", None) or {}
    message_id = metadata.get(METADATA_KEY)
    kind = getattr(event, "event_type", None)
    if not message_id and kind not in ("unsubscribed", "complained"):
        return None  # not one of our reminders
    if not _first_time(getattr(event, "event_id", None)):
        return "duplicate"
    e = engine()
    if kind == "opened":
        e.track("message_opened", message_id=message_id)
    elif kind == "clicked":
        fields = {"message_id": message_id}
        if getattr(event, "click_url", None):
            fields["url"] = event.click_url
        e.track("link_clicked", **fields)
    elif kind in ("bounced", "rejected", "failed"):
        record = getattr(e, "record_bounce", None)
        if record is None:
            log.warning("cartrecovery: bounce for %s not recorded: this engine has no record_bounce",
                        message_id)
            return "bounce_ignored"
        record(message_id=message_id, permanent=kind != "deferred",
               reason=getattr(event, "description", None) or kind)
    elif kind in ("unsubscribed", "complained") and getattr(event, "recipient", None):
        e.track("unsubscribed", email=event.recipient)
    else:
        return None
    return kind


def django_mail_channel(from_email: str | None = None, connection=None):
    """A CallbackChannel that sends reminders through Django's e-mail backend (anymail or any
    other), with the message id as anymail metadata and the engine's headers (Message-ID,
    List-Unsubscribe, ...). Runs on the worker's thread."""
    from django.core.mail import EmailMultiAlternatives

    from ..channels import CallbackChannel

    def send(m: dict) -> None:
        headers = dict(m.get("headers") or [])
        if m.get("date") is not None and "Date" not in headers:
            from email.utils import format_datetime
            headers["Date"] = format_datetime(m["date"])  # the engine's time, not the host's
        to = f'"{m["to_name"]}" <{m["to"]}>' if m.get("to_name") else m["to"]
        msg = EmailMultiAlternatives(m["subject"], m["text"], from_email, [to], headers=headers,
                                     connection=connection)
        if m.get("html"):
            msg.attach_alternative(m["html"], "text/html")
        msg.metadata = {METADATA_KEY: m["message_id"]}  # anymail sends this to the provider
        msg.send()

    return CallbackChannel(send)
