"""Abuse limits for the browser endpoints (beacon, exit-intent): rate limits per visitor
and per client address, and a nesting limit checked on the raw bytes before any JSON is
parsed. Framework-neutral; the endpoints call ``check_address``, ``check_depth`` and
``check_visitor``, each raising web.BadRequest (429 with Retry-After, or 400).

Why here and not in the core: a request refused here costs neither a JSON parse nor a
token check nor an engine call, and the address is the web server's to know.

Settings, CARTRECOVERY["RATE_LIMITS"] (each "<count>/<s|m|h>", or None for no limit):
    {"beacon_per_visitor": "120/m", "beacon_per_address": "600/m",
     "exit_intent_per_visitor": "20/m", "exit_intent_per_address": "120/m",
     "max_json_depth": 8, "address_header": None, "shared": None}
Behind a reverse proxy every request comes from the proxy's address: name the header the
proxy sets ("X-Forwarded-For"; its last entry, the one your proxy appended, is used) in
"address_header", or set the per-address limits to None.

Where the counts live ("shared"):
- None (the default): in this process, a token bucket per key (at most 50,000 keys, least
  recently seen dropped first). With N web processes or hosts a client gets up to N times
  the rate, which still stops the floods this is for.
- "redis://[:password@]host:port/db" (or "rediss://", "unix://"): in that Redis, one token
  bucket per key updated by one Lua script (atomic: the sum of what every process and host
  accepts stays within the limit), timed by Redis's own clock (hosts' clocks do not matter);
  a bucket expires once it would be full again. Needs the redis package
  (``pip install cartrecovery[redis]``), imported only then. A missing package or a Redis
  that does not answer when the settings are checked is a ConfigError naming
  RATE_LIMITS.shared; a Redis that goes away later lets requests through (logged), so an
  outage of the limiter never takes the shop's beacons down with it.
The engine's cap on events per cart (max_events_per_cart, counted in the store) stands
behind both.
"""
from __future__ import annotations

import logging
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
    "shared": None,
}
_NOT_RATES = ("max_json_depth", "address_header", "shared")
_log = logging.getLogger("cartrecovery.abuse")
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
        raise _config_error(field, f"expected a rate like '120/m' (count/s, /m or /h), got {text!r}")
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


# One token bucket in Redis, refilled and taken in one script so that concurrent processes
# never both take the last token. ARGV: capacity, refill per second. Returns 0 when a token
# was taken, else the whole seconds until one is back.
_TAKE_LUA = """
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or capacity
local at = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < 1 then
  wait = math.max(1, math.ceil((1 - tokens) / rate))
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return wait
"""


def _shown(url: str) -> str:
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)  # never the password


def connect_shared(url: Any):
    """The Redis client of RATE_LIMITS["shared"], checked with a PING; ConfigError naming the
    setting when the package is missing, the URL is not a Redis URL or nobody answers."""
    field = "RATE_LIMITS.shared"
    if not isinstance(url, str) or not re.match(r"^(redis|rediss|unix)://", url):
        got = repr(_shown(url)) if isinstance(url, str) else repr(url)
        raise _config_error(field, f"expected a Redis URL like 'redis://127.0.0.1:6379/0', got {got}")
    try:
        import redis
    except ImportError:
        raise _config_error(field, "shared rate limits need the redis package "
                                   "(pip install 'cartrecovery[redis]')") from None
    try:
        client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        client.ping()
    except (redis.RedisError, ValueError, OSError) as e:
        raise _config_error(field, f"Redis at {_shown(url)} does not answer: {_shown(str(e))}") from None
    return client


class SharedTokenBuckets:
    """TokenBuckets kept in Redis under ``prefix``: one limit for every process and host that
    uses the same Redis."""

    def __init__(self, client, prefix: str, capacity: float, rate: float):
        self.client, self.prefix, self.capacity, self.rate = client, prefix, capacity, rate
        self._take = client.register_script(_TAKE_LUA)
        self._warned = 0.0

    def take(self, key: str) -> None:
        """Takes one token for ``key`` or raises RateLimited; lets the request through when
        Redis does not answer (logged at most once a minute)."""
        import redis
        try:
            wait = int(self._take(keys=[f"{self.prefix}{key}"], args=[self.capacity, repr(self.rate)]))
        except (redis.RedisError, OSError) as e:
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                _log.warning("shared rate limits: Redis does not answer (%s); requests go through "
                             "unlimited meanwhile", _shown(str(e)))
            return
        if wait:
            raise RateLimited(wait)


def _config_error(field: str, message: str):
    err = _core.ConfigError(f"{field}: {message}")
    err.field = field
    return err


class Limits:
    """The parsed RATE_LIMITS of one adapter configuration, with their buckets."""

    def __init__(self, settings: Mapping[str, Any] | None,
                 clock: Callable[[], float] = time.monotonic):
        given = dict(settings or {})
        unknown = set(given) - set(DEFAULT_LIMITS)
        if unknown:
            raise _config_error("RATE_LIMITS", f"unknown key {sorted(unknown)[0]!r} "
                                               f"(known: {', '.join(sorted(DEFAULT_LIMITS))})")
        merged = {**DEFAULT_LIMITS, **given}
        depth = merged["max_json_depth"]
        if not isinstance(depth, int) or isinstance(depth, bool) or not 2 <= depth <= 100:
            raise _config_error("RATE_LIMITS.max_json_depth", f"a whole number from 2 to 100, got {depth!r}")
        self.max_json_depth = depth
        header = merged["address_header"]
        if header is not None and (not isinstance(header, str) or not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header)):
            raise _config_error("RATE_LIMITS.address_header",
                                f"a header name like 'X-Forwarded-For', got {header!r}")
        self.address_header = header
        rates = {key: parse_rate(value, f"RATE_LIMITS.{key}")
                 for key, value in merged.items() if key not in _NOT_RATES}
        shared = merged["shared"]
        client = connect_shared(shared) if shared is not None else None
        self._buckets: dict[str, TokenBuckets | SharedTokenBuckets | None] = {}
        for key, rate in rates.items():
            if rate is None:
                self._buckets[key] = None
            elif client is not None:
                # The limit's own numbers in the key: a changed limit starts fresh buckets
                # rather than reading another limit's.
                self._buckets[key] = SharedTokenBuckets(
                    client, f"cartrecovery:rate:{key}:{rate[0]:g}:{rate[1]:g}:", *rate)
            else:
                self._buckets[key] = TokenBuckets(*rate, clock=clock)

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
