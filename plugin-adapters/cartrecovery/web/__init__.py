"""What the Django app and the Flask extension share, with no framework imported here.

Both adapters are thin: settings to Engine, request to event, event to response. This
package holds the pieces that would otherwise be written twice, one concern per module:

- ``settings``: ``AdapterSettings``, the one lookup of a setting with a documented precedence.
- ``process``: ``EngineHolder``, one engine per process, opened lazily, reset after a fork;
  ``open_engine`` with the shop's order check installed.
- ``tokens``: signed visitor tokens (the script tag) and staff form tokens (the dashboard).
- ``request``: the same-origin check, bounded JSON bodies, language and time zone, ``Answer``.
- ``endpoints``: beacon, exit intent, tracking links and the script: bytes in, Answer out.
- ``tracking``: what a request (or the caller) adds to an event the shop tracks.
- ``consent``: the consent-gated mode (TRACKING_CONSENT).
- ``recording``: sending suppressed and messages recorded (Flask under ``app.testing``).
- ``commands``: the operator's commands for the CLI, ``manage.py`` and ``flask``.

Nothing here decides about recovery: that is the engine's work. The names below are
re-exported so ``from cartrecovery import web; web.sign_visitor(...)`` keeps working.
"""
from .endpoints import (
    SCRIPT_PATH,
    beacon_events,
    handle_beacon,
    handle_exit_intent,
    handle_link,
    script_bytes,
    script_etag,
    script_tag,
)
from . import consent
from .consent import WITHOUT_CONSENT, tracking_allowed
from .process import EngineHolder, open_engine, order_check
from .request import (
    Answer,
    BadRequest,
    check_same_origin,
    language_from_accept,
    origin_of,
    read_json,
    valid_timezone,
)
from .settings import DEFAULTS, AdapterSettings, allowed_origins, mount_path
from .tokens import (
    FORM_TOKEN_MAX_AGE,
    Visitor,
    _b64,
    new_form_nonce,
    new_visitor_id,
    sign_form,
    sign_visitor,
    verify_form,
    verify_visitor,
)
from .tracking import fill_event

__all__ = [
    "DEFAULTS", "FORM_TOKEN_MAX_AGE", "SCRIPT_PATH", "AdapterSettings", "Answer", "BadRequest",
    "EngineHolder", "Visitor", "allowed_origins", "beacon_events", "check_same_origin",
    "fill_event", "handle_beacon", "handle_exit_intent", "handle_link", "language_from_accept",
    "mount_path", "new_form_nonce", "new_visitor_id", "open_engine", "order_check", "origin_of",
    "read_json", "script_bytes", "script_etag", "script_tag", "sign_form", "sign_visitor",
    "valid_timezone", "verify_form", "verify_visitor", "WITHOUT_CONSENT", "tracking_allowed",
]
