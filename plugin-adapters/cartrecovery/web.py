"""What the Django app and the Flask extension share, with no framework imported here.

Both adapters are thin: settings to Engine, request to event, event to response. This module
holds the pieces that would otherwise be written twice:

- ``AdapterSettings``: the one lookup of a setting, with a documented precedence.
- ``EngineHolder``: one engine per process, opened lazily on first use, reset after fork.
- visitor tokens: an HMAC over (visitor id, cart id, issue time) that the script tag carries,
  so the browser's beacons can only speak for the visitor the shop's page was rendered for.
- ``handle_beacon`` / ``handle_exit_intent`` / ``handle_link``: a request's bytes and headers
  in, an ``Answer`` (status, content type, body, headers) out.
- small helpers: Accept-Language to a language tag, the same-origin check.

Nothing here decides about recovery: that is the engine's work.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from . import _core

SCRIPT_PATH = Path(__file__).parent / "static" / "cartrecovery.js"

# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------
# Every setting the adapters read, with its default. Precedence, first found wins:
#   1. keyword arguments given in code (``CartRecovery(app, secret=...)``; tests),
#   2. the framework's settings dict: Django ``settings.CARTRECOVERY["SECRET"]``,
#      Flask ``app.config["CARTRECOVERY"]["SECRET"]`` (or ``app.config["CARTRECOVERY_SECRET"]``),
#   3. the environment: ``CARTRECOVERY_SECRET`` (so secrets can stay out of settings files),
#   4. the default below.
# An unknown key in the settings dict is an error (a typo would otherwise do nothing).
DEFAULTS: dict[str, Any] = {
    "STORE": "sqlite:///recovery.db",   # engine store URL
    "SECRET": None,                     # >= 16 bytes; signs links and visitor tokens
    "BASE_URL": None,                   # absolute URL where the adapter's URLs are mounted
    "SHOP_NAME": "Our shop",
    "TIMEZONE": None,                   # the shop's IANA time zone
    "FLOWS": None,                      # flows for Engine(flows=...): objects, dicts, paths
    "CHANNELS": None,                   # dict name -> Channel, or a callable returning one
    "ENGINE_SETTINGS": {},              # more Engine settings (contact_email, ...)
    "CLOCK": None,                      # a ManualClock (tests, demos)
    "RESTORE_CART": None,               # hook(request, cart: dict) -> redirect URL or None
    "CART_IS_ORDERED": None,            # hook(cart_id: str) -> bool, asked before sending
    "CART_URL": "/cart/",               # where restore-cart sends the shopper afterwards
    "ALLOWED_ORIGINS": (),              # extra origins allowed to post beacons
    "MAX_BODY_BYTES": 8192,             # beacon / exit-intent body limit
    "MAX_EVENTS_PER_BEACON": 20,
    "TOKEN_MAX_AGE": 7 * 24 * 3600,     # seconds a visitor token stays valid
    "TRACK_ANYMAIL": True,              # Django: listen to django-anymail's tracking signal
    "DASHBOARD_AUTH": None,             # Flask: hook(request) -> True for staff (Django: is_staff)
}

_ENV_PREFIX = "CARTRECOVERY_"
_MISSING = object()


class AdapterSettings:
    """Reads settings with the precedence above. ``source`` is the framework's dict."""

    def __init__(self, source: Mapping[str, Any] | None = None,
                 overrides: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None):
        self.source = dict(source or {})
        self.overrides = {k.upper(): v for k, v in (overrides or {}).items()}
        self.environ = os.environ if environ is None else environ
        for key in list(self.source) + list(self.overrides):
            if key not in DEFAULTS:
                raise _core.ConfigError(
                    f"CARTRECOVERY[{key!r}]: unknown setting (known: {', '.join(sorted(DEFAULTS))})")

    def get(self, name: str) -> Any:
        name = name.upper()
        if name not in DEFAULTS:
            raise KeyError(name)
        for layer in (self.overrides, self.source):
            value = layer.get(name, _MISSING)
            if value is not _MISSING:
                return value
        env = self.environ.get(_ENV_PREFIX + name)
        if env is not None and not isinstance(DEFAULTS[name], (dict, tuple)):
            return type(DEFAULTS[name])(env) if isinstance(DEFAULTS[name], int) else env
        return DEFAULTS[name]

    def hook(self, name: str) -> Callable | None:
        """A hook setting: a callable, or a dotted path "package.module.function"."""
        value = self.get(name)
        if value is None or callable(value):
            return value
        if isinstance(value, str):
            module, _, attr = value.rpartition(".")
            try:
                return getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError, ValueError) as e:
                raise _core.ConfigError(f"CARTRECOVERY[{name!r}]: cannot import {value!r}: {e}") from e
        raise _core.ConfigError(f"CARTRECOVERY[{name!r}]: expected a callable or a dotted path")

    def problems(self) -> list[str]:
        """What makes the adapter unusable; the system check / init_app reports these."""
        out = []
        secret = self.get("SECRET")
        if not secret:
            out.append("SECRET is not set: links and visitor tokens cannot be signed "
                       "(set CARTRECOVERY['SECRET'] or the CARTRECOVERY_SECRET environment variable)")
        elif len(_bytes(secret)) < 16:
            out.append("SECRET is shorter than 16 bytes")
        base = self.get("BASE_URL")
        if not base:
            out.append("BASE_URL is not set: reminders cannot link back to the shop "
                       "(e.g. 'https://shop.example/cr/', where the adapter's URLs are mounted)")
        else:
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
                out.append(f"BASE_URL {base!r} must be an absolute http(s) URL without query or fragment")
        return out

    def engine_kwargs(self) -> dict:
        settings = dict(self.get("ENGINE_SETTINGS") or {})
        settings.setdefault("shop_name", self.get("SHOP_NAME"))
        for key in ("SECRET", "BASE_URL", "TIMEZONE"):
            if self.get(key):
                settings.setdefault(key.lower(), self.get(key))
        channels = self.get("CHANNELS")
        if callable(channels):
            channels = channels()  # channels are native objects: build them in this process
        return {"store": self.get("STORE"), "flows": self.get("FLOWS"), "channels": channels,
                "clock": self.get("CLOCK"), "settings": settings}


def _bytes(s: str | bytes) -> bytes:
    return s if isinstance(s, bytes) else str(s).encode()


# ---------------------------------------------------------------------------------------
# One engine per process
# ---------------------------------------------------------------------------------------
# Engines left behind by a fork. The child must not close them: their writer thread and
# store connection belong to the parent (closing would join a thread that does not exist
# here, or touch the parent's SQLite file state). Keeping a reference means __del__ never
# runs in the child.
_ORPHANED_BY_FORK: list[Any] = []
_HOLDERS: "list[EngineHolder]" = []
_fork_hook_installed = False


def _after_fork_in_child() -> None:
    for holder in _HOLDERS:
        holder._forget_after_fork()


class EngineHolder:
    """Opens the engine on first ``get()``, in the process that calls it: never at import,
    in ``AppConfig.ready()`` or in ``init_app()``, so each gunicorn worker forked from a
    ``--preload`` master opens its own. After a fork the child forgets the parent's engine
    (``os.register_at_fork``) and, as a second guard, a changed pid does the same."""

    def __init__(self, factory: Callable[[], Any]):
        global _fork_hook_installed
        self._factory = factory
        self._engine: Any = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        _HOLDERS.append(self)
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook_installed = True

    def get(self) -> Any:
        engine = self._engine
        if engine is not None and self._pid == os.getpid():
            return engine
        with self._lock:
            if self._pid != os.getpid():
                self._forget_after_fork()
            if self._engine is None:
                self._engine = self._factory()
                self._pid = os.getpid()
            return self._engine

    @property
    def opened(self) -> bool:
        return self._engine is not None and self._pid == os.getpid()

    def close(self) -> None:
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None and self._pid == os.getpid():
            engine.close()

    def _forget_after_fork(self) -> None:
        if self._engine is not None:
            _ORPHANED_BY_FORK.append(self._engine)
        self._engine = None
        self._lock = threading.Lock()  # a lock held by another thread at fork stays held
        self._pid = os.getpid()


# ---------------------------------------------------------------------------------------
# Visitor tokens
# ---------------------------------------------------------------------------------------
_TOKEN_CONTEXT = b"cartrecovery visitor token v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token_key(secret: str | bytes) -> bytes:
    # A key of its own, derived from the shop secret, so a visitor token can never be
    # mistaken for a tracking-link token signed with the secret itself.
    return hmac.new(_bytes(secret), _TOKEN_CONTEXT, hashlib.sha256).digest()


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(16)


def sign_visitor(secret: str | bytes, visitor_id: str, cart_id: str | None = None,
                 now: float | None = None) -> str:
    """A token the script tag carries: base64url(JSON [visitor, cart, issued]) "." tag."""
    payload = _b64(json.dumps([visitor_id, cart_id, int(now if now is not None else time.time())],
                              separators=(",", ":")).encode())
    tag = hmac.new(_token_key(secret), payload.encode(), hashlib.sha256).digest()[:18]
    return payload + "." + _b64(tag)


@dataclass
class Visitor:
    visitor_id: str
    cart_id: str | None


class BadRequest(Exception):
    """A refused request: ``status`` (4xx) and a message that says what is wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def verify_visitor(secret: str | bytes, token: Any, max_age: int, now: float | None = None) -> Visitor:
    if not isinstance(token, str) or not token or len(token) > 1024 or token.count(".") != 1:
        raise BadRequest(403, "t: missing or malformed visitor token")
    payload, tag = token.split(".")
    expected = _b64(hmac.new(_token_key(secret), payload.encode(), hashlib.sha256).digest()[:18])
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


# ---------------------------------------------------------------------------------------
# Request helpers
# ---------------------------------------------------------------------------------------
_LANG_RE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_TZ_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")


def language_from_accept(header: str | None) -> str | None:
    """The shopper's first language (R3.5) from an Accept-Language value, as a BCP 47 tag:
    "de-CH,de;q=0.9,en;q=0.8" -> "de-CH"; "*" and malformed parts are skipped."""
    best, best_q = None, -1.0
    for i, part in enumerate((header or "")[:512].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        q = 1.0
        for param in params.split(";"):
            k, _, v = param.strip().partition("=")
            if k.strip() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if tag == "*" or not _LANG_RE.match(tag) or q <= 0:
            continue
        if q > best_q:  # ties keep the earlier one, as the header orders them
            best, best_q = tag, q
    return best


def valid_timezone(name: str | None) -> str | None:
    """An IANA zone name the browser reported, or None when it does not look like one."""
    if not name or len(name) > 64 or not _TZ_RE.match(name):
        return None
    return name


def origin_of(url: str | None) -> str | None:
    if not url:
        return None
    p = urlsplit(url)
    if p.scheme not in ("http", "https") or not p.netloc:
        return None
    return f"{p.scheme}://{p.netloc}".lower()


def check_same_origin(headers: Mapping[str, str], own_origin: str, allowed: tuple = ()) -> None:
    """Refuses (403) a request a browser made from another site. Browsers send Origin on
    every POST (sendBeacon and fetch included); Sec-Fetch-Site and Referer are fallbacks.
    A request with none of them is refused too: our own script always sends one."""
    own = {own_origin.lower(), *(o.lower().rstrip("/") for o in allowed)}
    get = lambda name: headers.get(name)  # noqa: E731 (headers are case-insensitive maps)
    origin = get("Origin")
    if origin is not None:
        if origin.lower().rstrip("/") not in own:
            raise BadRequest(403, f"cross-origin request from {origin!r} refused")
        return
    site = get("Sec-Fetch-Site")
    if site is not None:
        if site != "same-origin":
            raise BadRequest(403, f"cross-site request refused (Sec-Fetch-Site: {site})")
        return
    if origin_of(get("Referer")) in own:
        return
    raise BadRequest(403, "request without Origin or Referer refused")


# ---------------------------------------------------------------------------------------
# Endpoints, framework-neutral
# ---------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    cart: dict | None = None   # restore: the cart to rebuild in the session
    kind: str | None = None

    @classmethod
    def json(cls, status: int, data: Any) -> "Answer":
        return cls(status, json.dumps(data, default=str).encode(), "application/json",
                   {"Cache-Control": "no-store"})

    @classmethod
    def error(cls, e: BadRequest) -> "Answer":
        return cls.json(e.status, {"error": e.message})


def _read_json(body: bytes, content_length: int | None, limit: int) -> dict:
    if content_length is not None and content_length > limit:
        raise BadRequest(413, f"body larger than {limit} bytes")
    if len(body) > limit:
        raise BadRequest(413, f"body larger than {limit} bytes")
    if not body:
        raise BadRequest(400, "empty body: expected a JSON object")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(400, f"body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "body must be a JSON object")
    return data


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


def handle_beacon(engine_get: Callable[[], Any], cfg: AdapterSettings, body: bytes,
                  headers: Mapping[str, str], own_origin: str,
                  content_length: int | None = None) -> Answer:
    """POST <mount>/b: the browser's events. 204 when stored; 4xx (and nothing stored) for a
    cross-origin or unsigned request, an oversized or malformed body or an invalid event."""
    try:
        check_same_origin(headers, own_origin, allowed_origins(cfg))
        data = _read_json(body, content_length, int(cfg.get("MAX_BODY_BYTES")))
        visitor = verify_visitor(cfg.get("SECRET"), data.get("t"), int(cfg.get("TOKEN_MAX_AGE")))
        events = beacon_events(data, visitor, language_from_accept(headers.get("Accept-Language")),
                               int(cfg.get("MAX_EVENTS_PER_BEACON")))
        try:
            engine_get().track_many(events)  # all or nothing
        except _core.ValidationError as e:
            raise BadRequest(400, str(e)) from None
    except BadRequest as e:
        return Answer.error(e)
    return Answer(204, headers={"Cache-Control": "no-store"})


NO_OFFERS = {"show": False, "kind": "none", "reason": "offers are not enabled"}


def handle_exit_intent(engine_get: Callable[[], Any], cfg: AdapterSettings, body: bytes,
                       headers: Mapping[str, str], own_origin: str,
                       content_length: int | None = None) -> Answer:
    """POST <mount>/x: the shopper is about to leave; the engine decides what to show (R5.1).
    The adapter makes no decision of its own: without engine offers it answers "none"."""
    try:
        check_same_origin(headers, own_origin, allowed_origins(cfg))
        data = _read_json(body, content_length, int(cfg.get("MAX_BODY_BYTES")))
        visitor = verify_visitor(cfg.get("SECRET"), data.get("t"), int(cfg.get("TOKEN_MAX_AGE")))
        context = data.get("context") or {}
        if not isinstance(context, dict) or len(json.dumps(context)) > 2000:
            raise BadRequest(400, "context: expected a small JSON object")
        engine = engine_get()
        decide = getattr(engine, "exit_intent", None)
        if decide is None:
            return Answer.json(200, NO_OFFERS)
        try:
            decision = decide(visitor_id=visitor.visitor_id, cart_id=visitor.cart_id, context=context)
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
    link = getattr(engine, "handle_link", None)
    if link is None:
        return Answer(501, b"this engine does not answer tracking links yet", "text/plain")
    r = link(path, method)
    return Answer(int(r["status"]), r.get("body") or b"", r.get("content_type") or "text/plain",
                  dict(r.get("headers") or {}), r.get("cart"), r.get("kind"))


def script_bytes() -> bytes:
    return SCRIPT_PATH.read_bytes()


def script_etag() -> str:
    return '"' + hashlib.sha256(script_bytes()).hexdigest()[:16] + '"'


def script_tag(src: str, endpoint: str, token: str, page_type: str | None = None,
               nonce: str | None = None, **data: str) -> str:
    """The <script> element the templates emit. Values are HTML-escaped."""
    from html import escape

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


# ---------------------------------------------------------------------------------------
# track(request, ...) from the shop's views
# ---------------------------------------------------------------------------------------
_TAKES_VISITOR = {"cart_updated", "contact_captured", "checkout_stage", "page_view",
                  "order_placed", "push_subscribed"}
_TAKES_CART = {"contact_captured", "checkout_stage", "order_placed", "page_view", "push_subscribed"}


def fill_event(type: str, fields: dict, visitor_id: str | None, cart_id: str | None,
               language: str | None, timezone: str | None) -> dict:
    """Adds what the request knows to an event the shop's view tracks, never overriding
    what the view passed: the visitor id, the session's cart, and for contacts the language
    (Accept-Language) and time zone (reported by the script) when known."""
    out = dict(fields)
    if type in _TAKES_VISITOR and visitor_id and not out.get("visitor_id"):
        out["visitor_id"] = visitor_id
    if type in _TAKES_CART and cart_id and not out.get("cart_id"):
        out["cart_id"] = cart_id
    if type == "contact_captured":
        if language and not out.get("language"):
            out["language"] = language
        if timezone and not out.get("timezone"):
            out["timezone"] = timezone
    return out


def install_order_check(engine: Any, hook: Callable[[str], bool] | None) -> bool:
    """Gives the engine the shop's "has this cart been ordered?" hook (``hook(cart_id) ->
    bool``), asked before every reminder. Returns False when this engine cannot take one."""
    if hook is None:
        return True
    setter = getattr(engine, "set_order_check", None)
    if setter is None:
        return False
    setter(lambda cart_id, email: bool(hook(cart_id)))
    return True


def open_engine(cfg: "AdapterSettings") -> Any:
    """This process's engine as the settings describe it, with the shop's hooks installed."""
    from .engine import Engine

    engine = Engine(**cfg.engine_kwargs())
    install_order_check(engine, cfg.hook("CART_IS_ORDERED"))
    return engine


def mount_path(cfg: AdapterSettings, default: str = "/cr/") -> str:
    """The URL path the adapter's endpoints live under: BASE_URL's path ("/cr/")."""
    base = cfg.get("BASE_URL")
    path = urlsplit(base).path if base else default
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def allowed_origins(cfg: AdapterSettings) -> tuple:
    extra = tuple(cfg.get("ALLOWED_ORIGINS") or ())
    base = origin_of(cfg.get("BASE_URL"))
    return extra + ((base,) if base else ())


# ---------------------------------------------------------------------------------------
# Operator commands shared by `manage.py cartrecovery ...` and `flask cartrecovery ...`
# ---------------------------------------------------------------------------------------
def run_worker(engine: Any, cfg: AdapterSettings, stop: threading.Event, say: Callable[[str], None]) -> None:
    """Runs the engine's worker until ``stop`` is set (the command wires SIGINT/SIGTERM)."""
    if not install_order_check(engine, cfg.hook("CART_IS_ORDERED")):
        say("warning: CART_IS_ORDERED is set but this engine cannot ask it yet; "
            "orders reach the engine only through order_placed events")
    engine.start()
    say(f"cartrecovery worker running on {cfg.get('STORE')}; Ctrl-C stops it")
    try:
        stop.wait()
    finally:
        engine.stop()


def export_person_text(engine: Any, email: str | None = None, phone: str | None = None) -> str:
    """Everything stored about a person as JSON (GDPR Article 15), for the commands."""
    import json

    return json.dumps(engine.export(email=email, phone=phone), indent=2, ensure_ascii=False)


def forget_person_text(engine: Any, email: str | None = None, phone: str | None = None) -> str:
    """Erases a person's data (GDPR Article 17); the summary names no address."""
    erased = engine.forget(email=email, phone=phone)
    if not erased:
        return "nobody is stored under that address or number; nothing to erase"
    return "erased: " + ", ".join(f"{table} {n}" for table, n in sorted(erased.items()) if n)


def report_text(engine: Any, by: str = "flow,step,channel", as_json: bool = False) -> str:
    from .cli import report_output

    return report_output(engine, by=[b for b in by.split(",") if b], as_json=as_json)


def import_coupons(engine: Any, pool: str, path: str, column: str | int = 0) -> str:
    """CSV of codes into an imported coupon pool (R4.2), with a progress bar on stderr for
    large files; returns the summary to print (bad rows by line number)."""
    import os

    from .simulate import progress_bar

    size = max(os.path.getsize(path), 1)
    bar = progress_bar(label="importing")
    report = engine.import_coupons(pool, path, column=column, progress=lambda n: bar(n / size))
    lines = [f"imported {report['imported']} codes into {pool}"
             f" ({report['already_known']} already known, {report['duplicates_in_file']} repeated"
             f" in the file, {report['bad_row_count']} bad rows)"]
    lines += [f"  line {line}: {reason} {detail}".rstrip() for line, reason, detail in report["bad_rows"][:20]]
    return "\n".join(lines)


def send_test(cfg: AdapterSettings, to: str, channel: str = "email") -> str:
    """Sends one test message through the configured channel (R6.2); returns its description."""
    channels = cfg.get("CHANNELS")
    channels = channels() if callable(channels) else (channels or {})
    if channel not in channels:
        raise _core.ConfigError(f"CHANNELS has no {channel!r} channel (the outbox keeps messages "
                                "in the store; configure an SmtpChannel to send a real test)")
    ch = channels[channel]
    ch.send_test(to, subject="cartrecovery test message")
    return ch.describe()


# ---------------------------------------------------------------------------------------
# Staff forms (the dashboard's pause/resume buttons)
# ---------------------------------------------------------------------------------------
# Django has its own CSRF protection; Flask has none built in, so its forms carry an HMAC
# over a random nonce kept in the staff member's session: a page from another site cannot
# read the session, so it cannot make a token that matches it.
_FORM_CONTEXT = b"cartrecovery staff form v1"
FORM_TOKEN_MAX_AGE = 12 * 3600  # a dashboard left open overnight needs a reload


def new_form_nonce() -> str:
    return secrets.token_urlsafe(16)


def _form_key(secret: str | bytes) -> bytes:
    # Derived with its own context: a form token is never a valid visitor or link token.
    return hmac.new(_bytes(secret), _FORM_CONTEXT, hashlib.sha256).digest()


def sign_form(secret: str | bytes, session_nonce: str, purpose: str, now: float | None = None) -> str:
    """The hidden token of a staff form: "<issued>.<tag>", tied to the session's nonce and
    to what the form is for ("dashboard")."""
    issued = str(int(time.time() if now is None else now))
    tag = hmac.new(_form_key(secret), f"{purpose}|{session_nonce}|{issued}".encode(), hashlib.sha256)
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
