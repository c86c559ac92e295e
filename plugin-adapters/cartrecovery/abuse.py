"""Abuse limits for the browser endpoints (beacon, exit-intent): rate limits per visitor
and per client address, and a nesting limit checked on the raw bytes before any JSON is
parsed. Framework-neutral; the endpoints call ``check_address``, ``check_depth`` and
``check_visitor``, each raising web.BadRequest (429 with Retry-After, or 400).

Why here and not in the core: a request refused here costs neither a JSON parse nor a
token check nor an engine call, and the address is the web server's to know.

Settings, CARTRECOVERY["RATE_LIMITS"] (each "<count>/<s|m|h>", or None for no limit):
    {"beacon_per_visitor": "120/m", "beacon_per_address": "600/m",
     "exit_intent_per_visitor": "20/m", "exit_intent_per_address": "120/m",
     "max_json_depth": 8, "address_header": None}
Behind a reverse proxy every request comes from the proxy's address: name the header the
proxy sets ("X-Forwarded-For"; its last entry, the one your proxy appended, is used) in
"address_header", or set the per-address limits to None. Counts live in this process (a token bucket per key, at most 50,000 keys, least recently
seen dropped first): with N web processes a client gets up to N times the rate, which still
stops the floods this is for. The engine's cap on events per cart stands behind it.
"""
from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Mapping

from . import _core

DEFAULT_LIMITS: dict[str, Any] = {
    "beacon_per_visitor": "120/m",
    "beacon_per_address": "600/m",
    "exit_intent_per_visitor": "20/m",
    "exit_intent_per_address": "120/m",
    "max_json_depth": 8,
    "address_header": None,
}
_RATE = re.compile(r"^\s*(\d{1,9})\s*/\s*(\d{0,6})\s*(s|sec|m|min|h|hour)\s*$")
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}
MAX_KEYS = 50_000


class RateLimited(Exception):
    """Raised by TokenBuckets.take: ``retry_after`` whole seconds until a token is back."""

    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


def parse_rate(text: Any, field: str) -> tuple[float, float] | None:
    """ "120/m" -> (capacity 120, refill 2 per second); None -> no limit."""
    if text is None:
        return None
    m = _RATE.match(text) if isinstance(text, str) else None
    if not m or int(m.group(1)) < 1:
        err = _core.ConfigError(f"{field}: expected a rate like '120/m' (count/s, /m or /h), got {text!r}")
        err.field = field
        raise err
    count, per, unit = int(m.group(1)), int(m.group(2) or 1), _UNIT[m.group(3)]
    return float(count), count / (per * unit)


class TokenBuckets:
    """One token bucket per key: ``capacity`` tokens, refilled at ``rate`` per second.
    Thread-safe; memory bounded by ``max_keys`` (least recently used keys go first, which
    only ever lets a forgotten client start again with a full bucket)."""

    def __init__(self, capacity: float, rate: float, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic):
        self.capacity, self.rate, self.max_keys, self.clock = capacity, rate, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Takes one token for ``key`` or raises RateLimited."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                raise RateLimited(max(1, math.ceil((1 - tokens) / self.rate)))
            self._buckets[key] = (tokens - 1, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)


class Limits:
    """The parsed RATE_LIMITS of one adapter configuration, with their buckets."""

    def __init__(self, settings: Mapping[str, Any] | None,
                 clock: Callable[[], float] = time.monotonic):
        given = dict(settings or {})
        unknown = set(given) - set(DEFAULT_LIMITS)
        if unknown:
            err = _core.ConfigError(f"RATE_LIMITS: unknown key {sorted(unknown)[0]!r} "
                                    f"(known: {', '.join(sorted(DEFAULT_LIMITS))})")
            err.field = "RATE_LIMITS"
            raise err
        merged = {**DEFAULT_LIMITS, **given}
        depth = merged["max_json_depth"]
        if not isinstance(depth, int) or isinstance(depth, bool) or not 2 <= depth <= 100:
            err = _core.ConfigError(f"RATE_LIMITS.max_json_depth: a whole number from 2 to 100, got {depth!r}")
            err.field = "RATE_LIMITS.max_json_depth"
            raise err
        self.max_json_depth = depth
        header = merged["address_header"]
        if header is not None and (not isinstance(header, str) or not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header)):
            err = _core.ConfigError(f"RATE_LIMITS.address_header: a header name like 'X-Forwarded-For', got {header!r}")
            err.field = "RATE_LIMITS.address_header"
            raise err
        self.address_header = header
        self._buckets: dict[str, TokenBuckets | None] = {}
        for key, value in merged.items():
            if key in ("max_json_depth", "address_header"):
                continue
            rate = parse_rate(value, f"RATE_LIMITS.{key}")
            self._buckets[key] = None if rate is None else TokenBuckets(*rate, clock=clock)

    def take(self, endpoint: str, who: str, key: str | None) -> None:
        buckets = self._buckets.get(f"{endpoint}_per_{who}")
        if buckets is not None and key:
            buckets.take(key)


_LIMITS_LOCK = threading.Lock()


def limits_for(cfg: Any) -> Limits:
    """The Limits of an AdapterSettings, built once and kept on it."""
    limits = getattr(cfg, "_abuse_limits", None)
    if limits is None:
        with _LIMITS_LOCK:
            limits = getattr(cfg, "_abuse_limits", None)
            if limits is None:
                limits = Limits(cfg.get("RATE_LIMITS"))
                cfg._abuse_limits = limits
    return limits


def _too_many(retry_after: int, what: str):
    from .web import BadRequest  # web imports this module; the error class is web's
    err = BadRequest(429, f"too many requests {what}; retry after {retry_after} s")
    err.headers = {"Retry-After": str(retry_after)}
    return err


def check_address(cfg: Any, endpoint: str, remote_addr: str | None,
                  headers: Mapping[str, str] | None = None) -> None:
    """Before anything is parsed: the client address's bucket (429 when empty). The
    address is the connection's, or the last entry of RATE_LIMITS["address_header"]."""
    limits = limits_for(cfg)
    address = remote_addr
    if limits.address_header and headers is not None:
        forwarded = headers.get(limits.address_header)
        if forwarded:
            address = forwarded.rsplit(",", 1)[-1].strip()[:100] or remote_addr
    try:
        limits.take(endpoint, "address", address)
    except RateLimited as e:
        raise _too_many(e.retry_after, "from this address") from None


def check_visitor(cfg: Any, endpoint: str, visitor_id: str) -> None:
    """After the visitor token is verified: the visitor's bucket (429 when empty)."""
    try:
        limits_for(cfg).take(endpoint, "visitor", visitor_id)
    except RateLimited as e:
        raise _too_many(e.retry_after, "for this visitor") from None


def json_depth(body: bytes) -> int:
    """How deeply a JSON text's arrays and objects nest, brackets inside strings not
    counted. One pass over the bytes, no recursion: safe on any input."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        elif byte in (0x5D, 0x7D) and depth:
            depth -= 1
    return deepest


def check_depth(cfg: Any, body: bytes) -> None:
    """Before json.loads: a body nested deeper than max_json_depth is a 400 (6 KB of '['
    would otherwise reach Python's recursion limit)."""
    limit = limits_for(cfg).max_json_depth
    if body.count(b"[") + body.count(b"{") <= limit:
        return  # the common case, counted in C
    if json_depth(body) > limit:
        from .web import BadRequest
        raise BadRequest(400, f"body nested deeper than {limit} levels")
