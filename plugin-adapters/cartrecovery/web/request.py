"""What a request brings and what the adapters answer, framework-neutral: the same-origin
check, a bounded JSON body, the shopper's language and time zone, and ``Answer`` (status,
content type, body, headers) that each adapter turns into its own response."""
from __future__ import annotations

import json
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from .. import abuse


class BadRequest(Exception):
    """A refused request: ``status`` (4xx) and a message that says what is wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: dict = {}  # e.g. Retry-After on a 429


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
        answer = cls.json(e.status, {"error": e.message})
        answer.headers.update(e.headers)
        return answer


def read_json(body: bytes, content_length: int | None, limit: int, cfg: Any = None) -> dict:
    """The body as a JSON object; 413 past ``limit`` bytes, 400 for anything else wrong."""
    if content_length is not None and content_length > limit:
        raise BadRequest(413, f"body larger than {limit} bytes")
    if len(body) > limit:
        raise BadRequest(413, f"body larger than {limit} bytes")
    if not body:
        raise BadRequest(400, "empty body: expected a JSON object")
    if cfg is not None:
        abuse.check_depth(cfg, body)  # before the parser: deep nesting is a 400, not a RecursionError
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadRequest(400, f"body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "body must be a JSON object")
    return data


_LANG_RE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_TZ_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")


def language_from_accept(header: str | None) -> str | None:
    """The shopper's first language (R3.5) from an Accept-Language value, as a BCP 47 tag:
    "de-CH,de;q=0.9,en;q=0.8" -> "de-CH"; "*" and malformed parts are skipped."""
    best, best_q = None, -1.0
    for part in (header or "")[:512].split(","):
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
    """An IANA zone name the browser reported, or None when it is not one (the contact is
    still captured, in the shop's zone, rather than the whole beacon refused)."""
    if not name or len(name) > 64 or not _TZ_RE.match(name):
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
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
    get = headers.get  # the frameworks' header maps are case-insensitive
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
