"""The adapters' endpoints, framework-neutral: a request's bytes and headers in, an
``Answer`` out. Each adapter's view only reads its request and writes its response.

    POST <mount>/b              the browser's events (beacons)
    POST <mount>/x              exit intent: the engine decides what to show (R5.1)
    GET  <mount>/cartrecovery.js
    GET/POST <mount>/o|c|r|u/<token>   open pixel, click, restore, unsubscribe

Nothing here decides about recovery: that is the engine's work.
"""
from __future__ import annotations

import hashlib
import json
import re
from html import escape
from pathlib import Path
from typing import Any, Callable, Mapping

from .. import _core, abuse
from .request import Answer, BadRequest, check_same_origin, language_from_accept, read_json, valid_timezone
from .settings import AdapterSettings, allowed_origins
from .tokens import Visitor, verify_visitor

SCRIPT_PATH = Path(__file__).parent.parent / "static" / "cartrecovery.js"
_PAGE_TYPES = {"home", "category", "product", "cart", "checkout", "other"}


def _text(ev: dict, key: str, where: str, limit: int = 2000) -> str | None:
    v = ev.get(key)
    if v is None or v == "":
        return None
    if not isinstance(v, str) or len(v) > limit:
        raise BadRequest(400, f"{where}.{key}: expected a string of at most {limit} characters")
    return v


def beacon_events(data: dict, visitor: Visitor, language: str | None, max_events: int) -> list[dict]:
    """Turns a beacon body into engine events. The browser may only report what it sees:
    page views (R1.4), contact details typed into checkout fields (R1.5), its time zone and
    a push subscription. Carts and orders come from the shop's server code, never from here;
    ids come from the signed token, never from the body."""
    events = data.get("events")
    if not isinstance(events, list) or not events:
        raise BadRequest(400, "events: expected a non-empty list")
    if len(events) > max_events:
        raise BadRequest(413, f"events: at most {max_events} per beacon")
    out = []
    for i, ev in enumerate(events):
        where = f"events[{i}]"
        if not isinstance(ev, dict):
            raise BadRequest(400, f"{where}: expected an object")
        kind = ev.get("type")
        ids: dict[str, Any] = {"visitor_id": visitor.visitor_id}
        if kind == "page_view":
            page_type = ev.get("page_type") or "other"
            if page_type not in _PAGE_TYPES:
                raise BadRequest(400, f"{where}.page_type: one of {', '.join(sorted(_PAGE_TYPES))}")
            fields = {"page_type": page_type, "url": _text(ev, "url", where),
                      "product_id": _text(ev, "product_id", where, 200)}
            if visitor.cart_id:
                fields["cart_id"] = visitor.cart_id
            out.append({"type": "page_view", **ids, **{k: v for k, v in fields.items() if v}})
        elif kind == "contact":
            email = _text(ev, "email", where, 254)
            phone = _text(ev, "phone", where, 32)
            if not email and not phone:
                raise BadRequest(400, f"{where}: email or phone is required")
            fields = {"email": email, "phone": phone, "language": language,
                      "timezone": valid_timezone(_text(ev, "timezone", where, 64)),
                      "first_name": _text(ev, "first_name", where, 100)}
            consent = ev.get("consent")
            if consent is not None:
                if not isinstance(consent, dict) or not all(
                        k in ("email", "sms", "push", "personalization") and isinstance(v, bool)
                        for k, v in consent.items()):
                    raise BadRequest(400, f"{where}.consent: expected {{email, sms, push, personalization: bool}}")
                fields["consent"] = consent
            if visitor.cart_id:
                ids["cart_id"] = visitor.cart_id
            out.append({"type": "contact_captured", **ids, **{k: v for k, v in fields.items() if v}})
        elif kind == "push_subscribed":
            sub = ev.get("subscription")
            if not isinstance(sub, dict):
                raise BadRequest(400, f"{where}.subscription: expected an object")
            if visitor.cart_id:
                ids["cart_id"] = visitor.cart_id
            out.append({"type": "push_subscribed", **ids, "subscription": sub})
        else:
            raise BadRequest(400, f"{where}.type: one of page_view, contact, push_subscribed")
    return out


def _signed_body(cfg: AdapterSettings, body: bytes, headers: Mapping[str, str], own_origin: str,
                 content_length: int | None, endpoint: str, remote_addr: str | None) -> tuple[dict, Visitor]:
    # Rate limits (abuse.py): the address before anything is parsed, the visitor once known.
    abuse.check_address(cfg, endpoint, remote_addr, headers)
    check_same_origin(headers, own_origin, allowed_origins(cfg))
    data = read_json(body, content_length, int(cfg.get("MAX_BODY_BYTES")), cfg)
    visitor = verify_visitor(cfg.get("SECRET"), data.get("t"), int(cfg.get("TOKEN_MAX_AGE")))
    abuse.check_visitor(cfg, endpoint, visitor.visitor_id)
    return data, visitor


def handle_beacon(engine_get: Callable[[], Any], cfg: AdapterSettings, body: bytes,
                  headers: Mapping[str, str], own_origin: str,
                  content_length: int | None = None, remote_addr: str | None = None) -> Answer:
    """POST <mount>/b: the browser's events. 204 when stored; 4xx (and nothing stored) for a
    cross-origin or unsigned request, an oversized, too deep or malformed body, an invalid
    event, or 429 (Retry-After) past the rate limits (abuse.py)."""
    try:
        data, visitor = _signed_body(cfg, body, headers, own_origin, content_length, "beacon", remote_addr)
        events = beacon_events(data, visitor, language_from_accept(headers.get("Accept-Language")),
                               int(cfg.get("MAX_EVENTS_PER_BEACON")))
        try:
            engine_get().track_many(events)  # all or nothing
        except _core.ValidationError as e:
            raise BadRequest(400, str(e)) from None
    except BadRequest as e:
        return Answer.error(e)
    return Answer(204, headers={"Cache-Control": "no-store"})


def handle_exit_intent(engine_get: Callable[[], Any], cfg: AdapterSettings, body: bytes,
                       headers: Mapping[str, str], own_origin: str,
                       content_length: int | None = None, remote_addr: str | None = None) -> Answer:
    """POST <mount>/x: the shopper is about to leave; the engine's decision (show, kind,
    variant, coupon, reason) is the answer's JSON body. The adapter decides nothing."""
    try:
        data, visitor = _signed_body(cfg, body, headers, own_origin, content_length, "exit_intent",
                                     remote_addr)
        context = data.get("context") or {}
        if not isinstance(context, dict) or len(json.dumps(context)) > 2000:
            raise BadRequest(400, "context: expected a small JSON object")
        try:
            decision = engine_get().exit_intent(visitor_id=visitor.visitor_id, cart_id=visitor.cart_id,
                                                context=context)
        except _core.ValidationError as e:
            raise BadRequest(400, str(e)) from None
    except BadRequest as e:
        return Answer.error(e)
    return Answer.json(200, decision)


_LINK_PATH = re.compile(r"^(o/[A-Za-z0-9_-]{1,4096}\.gif|[cru]/[A-Za-z0-9_-]{1,4096})$")


def handle_link(engine: Any, path: str, method: str) -> Answer:
    """GET/POST <mount>/o|c|r|u/<token>: the engine verifies the token and answers; the
    adapter only turns that into a response (and, for restore, rebuilds the session cart)."""
    if not _LINK_PATH.match(path):
        return Answer(404, b"not found", "text/plain")
    r = engine.handle_link(path, method)
    return Answer(int(r["status"]), r.get("body") or b"", r.get("content_type") or "text/plain",
                  dict(r.get("headers") or {}), r.get("cart"), r.get("kind"))


def script_bytes() -> bytes:
    return SCRIPT_PATH.read_bytes()


def script_etag() -> str:
    return '"' + hashlib.sha256(script_bytes()).hexdigest()[:16] + '"'


def script_tag(src: str, endpoint: str, token: str, page_type: str | None = None,
               nonce: str | None = None, **data: str) -> str:
    """The <script> element the templates emit. Values are HTML-escaped."""
    attrs = [("src", src), ("defer", None), ("data-cr-endpoint", endpoint), ("data-cr-token", token)]
    if page_type:
        attrs.append(("data-cr-page", page_type))
    for k, v in data.items():
        if v is not None:
            attrs.append(("data-cr-" + k.replace("_", "-"), str(v)))
    if nonce:
        attrs.append(("nonce", nonce))
    inner = " ".join(k if v is None else f'{k}="{escape(str(v), quote=True)}"' for k, v in attrs)
    return f"<script {inner}></script>"
