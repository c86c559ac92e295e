"""Signed tokens the adapters make and check themselves (tracking links are the engine's).

- visitor tokens: an HMAC over (visitor id, cart id, issue time) that the script tag
  carries, so the browser's beacons can only speak for the visitor the shop's page was
  rendered for;
- staff form tokens: Django has its own CSRF protection; Flask has none built in, so the
  dashboard's forms carry an HMAC over a random nonce kept in the staff member's session: a
  page from another site cannot read the session, so it cannot make a matching token.

Each kind has a key of its own derived from the shop secret, so a token of one kind is never
valid as another (nor as a tracking-link token signed with the secret itself).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from .request import BadRequest
from .settings import secret_bytes

_VISITOR_CONTEXT = b"cartrecovery visitor token v1"
_FORM_CONTEXT = b"cartrecovery staff form v1"
FORM_TOKEN_MAX_AGE = 12 * 3600  # a dashboard left open overnight needs a reload


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str | bytes, context: bytes) -> bytes:
    return hmac.new(secret_bytes(secret), context, hashlib.sha256).digest()


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(16)


@dataclass
class Visitor:
    visitor_id: str
    cart_id: str | None


def sign_visitor(secret: str | bytes, visitor_id: str, cart_id: str | None = None,
                 now: float | None = None) -> str:
    """A token the script tag carries: base64url(JSON [visitor, cart, issued]) "." tag."""
    payload = _b64(json.dumps([visitor_id, cart_id, int(now if now is not None else time.time())],
                              separators=(",", ":")).encode())
    tag = hmac.new(_key(secret, _VISITOR_CONTEXT), payload.encode(), hashlib.sha256).digest()[:18]
    return payload + "." + _b64(tag)


def verify_visitor(secret: str | bytes, token: Any, max_age: int, now: float | None = None) -> Visitor:
    """The visitor a token speaks for; 403 (naming ``t``) when it is missing, forged or old."""
    if (not isinstance(token, str) or not token or len(token) > 1024 or token.count(".") != 1
            or not token.isascii()):  # a token is base64url; anything else cannot be signed
        raise BadRequest(403, "t: missing or malformed visitor token")
    payload, tag = token.split(".")
    expected = _b64(hmac.new(_key(secret, _VISITOR_CONTEXT), payload.encode(), hashlib.sha256).digest()[:18])
    if not hmac.compare_digest(expected, tag):
        raise BadRequest(403, "t: bad visitor token signature")
    try:
        visitor_id, cart_id, issued = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        raise BadRequest(403, "t: malformed visitor token") from None
    now = time.time() if now is None else now
    if not isinstance(issued, int) or now - issued > max_age or issued - now > 300:
        raise BadRequest(403, "t: visitor token expired; reload the page")
    return Visitor(str(visitor_id), None if cart_id is None else str(cart_id))


def new_form_nonce() -> str:
    return secrets.token_urlsafe(16)


def sign_form(secret: str | bytes, session_nonce: str, purpose: str, now: float | None = None) -> str:
    """The hidden token of a staff form: "<issued>.<tag>", tied to the session's nonce and
    to what the form is for ("dashboard")."""
    issued = str(int(time.time() if now is None else now))
    tag = hmac.new(_key(secret, _FORM_CONTEXT), f"{purpose}|{session_nonce}|{issued}".encode(), hashlib.sha256)
    return issued + "." + _b64(tag.digest())


def verify_form(secret: str | bytes, token: Any, session_nonce: str | None, purpose: str,
                max_age: int = FORM_TOKEN_MAX_AGE, now: float | None = None) -> None:
    """Refuses (403, naming the csrf_token field) a staff form whose token is missing,
    forged, made for another session or purpose, or older than ``max_age``."""
    if not session_nonce:
        raise BadRequest(403, "csrf_token: no form token in this session; reload the page")
    if not isinstance(token, str) or len(token) > 200 or not token.isascii() or token.count(".") != 1:
        raise BadRequest(403, "csrf_token: missing or malformed form token; reload the page")
    issued = token.split(".")[0]
    if not issued.isdigit() or not hmac.compare_digest(
            sign_form(secret, session_nonce, purpose, int(issued)), token):
        raise BadRequest(403, "csrf_token: bad form token")
    now = time.time() if now is None else now
    if now - int(issued) > max_age or int(issued) - now > 300:
        raise BadRequest(403, "csrf_token: form token expired; reload the page")
