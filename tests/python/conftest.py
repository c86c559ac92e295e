"""Shared fixtures for the end-to-end Python tests.

Time is a ManualClock that starts on Monday 2026-03-02 09:00 UTC (T0); every engine lives on
a SQLite file under the test's tmp_path. Helpers add a cart with items and a contact, and
move the clock to an exact time and run what is due there.

With CARTRECOVERY_TEST_STORE=postgresql the same tests run on PostgreSQL: store_url() hands
out a fresh schema of the database at CARTRECOVERY_TEST_PG (default
postgresql://postgres@127.0.0.1:5432/test) per test and store file name, dropped when the
test ends. Tests about SQLite files mark themselves @pytest.mark.sqlite_only("why").

smtp_server starts real SMTP servers (aiosmtpd on 127.0.0.1) that record what they accept.
"""
from __future__ import annotations

import asyncio
import email
import email.parser
import email.policy
import os
import re
import secrets
import socket
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import pytest

import cartrecovery as cr
from raw_postgres import RawPostgres

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

SETTINGS = {"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/"}
# A worker stores what the channels accepted "sent" in groups of at most this many while it
# delivers a batch (core/src/engine/record_groups.h), so a kill re-sends no more than that.
RECORD_GROUP = int(re.search(
    r"kRecordGroupMessages = (\d+);",
    (Path(__file__).resolve().parents[2] / "core/src/engine/record_groups.h").read_text())[1])

KITE = {"sku": "KITE-1", "name": "Kite Pro 9m", "price": Decimal("19.99"), "quantity": 3}
BOARD = {"sku": "BOARD-2", "name": "Twin-Tip Board", "price": "249.00", "quantity": 1}


TEST_STORE = os.environ.get("CARTRECOVERY_TEST_STORE", "sqlite").strip().lower() or "sqlite"
if TEST_STORE not in ("sqlite", "postgresql", "postgres"):
    raise pytest.UsageError(f"CARTRECOVERY_TEST_STORE={TEST_STORE!r}: use sqlite or postgresql")
ON_POSTGRES = TEST_STORE != "sqlite"
PG_URL = os.environ.get("CARTRECOVERY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


_pg_test: dict[str, Any] = {"base": None, "schemas": []}  # this test's schemas (PostgreSQL)


def _pg_schema(path) -> str:
    if _pg_test["base"] is None:
        raise RuntimeError("store_url() on PostgreSQL is only for use inside a test")
    stem = re.sub(r"[^a-z0-9_]", "_", Path(str(path)).stem.lower())[:40]
    schema = _pg_test["base"] if stem == "recovery" else f"{_pg_test['base']}_{stem}"
    if schema not in _pg_test["schemas"]:
        _pg_test["schemas"].append(schema)
    return schema


def store_url(path) -> str:
    """The store of the file `path`: that SQLite file, or on PostgreSQL a schema of the test's
    own (one per file name, so a test may still open several stores)."""
    if ON_POSTGRES:
        return f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={_pg_schema(path)}"
    return f"sqlite:///{path}"


def store_execute(path, sql: str) -> list[tuple]:
    """Runs SQL on the store of `path` behind the engine's back (as text rows on PostgreSQL)."""
    if ON_POSTGRES:
        raw = RawPostgres(PG_URL)
        try:
            raw.execute(f"SET search_path TO {_pg_schema(path)}")
            return raw.execute(sql)
        finally:
            raw.close()
    con = sqlite3.connect(str(path))
    try:
        with con:
            return con.execute(sql).fetchall()
    finally:
        con.close()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite_only(reason): about SQLite files; skipped when the suite runs on PostgreSQL")


def pytest_collection_modifyitems(config, items):
    if not ON_POSTGRES:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            why = marker.args[0] if marker.args else "about SQLite files"
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {why}"))


@pytest.fixture(autouse=True)
def _postgres_schemas():
    """On PostgreSQL: the schemas this test's stores live in, dropped when it ends (after
    every engine fixture has closed its engines)."""
    if not ON_POSTGRES:
        yield
        return
    _pg_test["base"] = f"t_py_{secrets.token_hex(6)}"
    _pg_test["schemas"] = []
    try:
        yield
    finally:
        schemas, _pg_test["schemas"], _pg_test["base"] = _pg_test["schemas"], [], None
        if schemas:
            raw = RawPostgres(PG_URL)
            try:
                for schema in schemas:
                    raw.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            finally:
                raw.close()


class SmtpSink:
    """What a real SMTP server (aiosmtpd) accepted, oldest first. `replies` are answered
    (oldest first) instead of accepting DATA; `delay` seconds pass before each answer.
    `max_active` is the most DATA commands it was answering at once, `peers` the client
    (host, port) of every connection that sent a DATA, and the DATA commands counted in
    `drop_at` (1-based) are answered by hanging up instead."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.envelopes = []
        self.replies: list[str] = []
        self.refusals: list[str] = []
        self.drop_at: set[int] = set()
        self.dropped: list[tuple] = []  # the peers hung up on
        self.peers: list[tuple] = []  # first-seen order
        self.active = 0
        self.max_active = 0
        self.datas = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.datas += 1
            if session.peer not in self.peers:
                self.peers.append(session.peer)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            drop = self.datas in self.drop_at
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            with self.lock:
                self.active -= 1
        if drop:
            with self.lock:
                self.dropped.append(session.peer)
            server.transport.abort()  # the message was not accepted
            return "421 gone"  # never reaches the client
        with self.lock:
            if self.replies:
                reply = self.replies.pop(0)
                self.refusals.append(reply)
                return reply
            self.envelopes.append(envelope)
        return "250 OK"

    def count(self, mail_from: str | None = None) -> int:
        """How many messages were accepted (from the envelope sender `mail_from`, if given)."""
        with self.lock:
            if mail_from is None:
                return len(self.envelopes)
            return sum(1 for e in self.envelopes if e.mail_from == mail_from)

    def messages(self):
        with self.lock:
            return [email.message_from_bytes(e.content, policy=email.policy.default)
                    for e in self.envelopes]

    def deliveries(self) -> list[tuple[str, str]]:
        """(envelope sender, Message-ID header) of every message accepted, oldest first."""
        with self.lock:
            envelopes = list(self.envelopes)
        headers = email.parser.BytesHeaderParser(policy=email.policy.default)
        return [(e.mail_from, str(headers.parsebytes(e.content)["Message-ID"])) for e in envelopes]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """start(delay=0.0, **aiosmtpd_controller_kwargs) -> (sink, port): a real SMTP server on
    127.0.0.1 that records what it accepts; every server started is stopped at teardown."""
    controller_module = pytest.importorskip("aiosmtpd.controller")
    controllers = []

    def start(delay: float = 0.0, **kwargs):
        sink = SmtpSink(delay)
        port = free_port()
        controller = controller_module.Controller(sink, hostname="127.0.0.1", port=port,
                                                  ready_timeout=10, **kwargs)
        controller.start()
        controllers.append(controller)
        return sink, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def clock() -> cr.ManualClock:
    return cr.ManualClock(T0)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "recovery.db"


@pytest.fixture
def make_engine(db_path, clock):
    """Factory: make_engine(flows=..., channels=..., settings=...) -> Engine on db_path with
    the test's ManualClock. Every engine made is closed at teardown."""
    engines: list[cr.Engine] = []

    def make(**kwargs: Any) -> cr.Engine:
        kwargs.setdefault("store", store_url(db_path))
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("settings", dict(SETTINGS))
        engine = cr.Engine(**kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(make_engine) -> cr.Engine:
    return make_engine()


def add_cart(engine: cr.Engine, cart_id: str = "c1", *, items: Iterable[dict] | None = None,
             email: str | None = "ann@example.com", phone: str | None = None,
             visitor_id: str | None = None, orders_count: int | None = None,
             currency: str = "EUR", at: datetime | None = None, **contact: Any) -> None:
    """A cart with items (default: three kites) and, unless email and phone are None, a
    captured contact. `at` defaults to the clock."""
    visitor_id = visitor_id or f"v-{cart_id}"
    engine.track("cart_updated", at=at, cart_id=cart_id, visitor_id=visitor_id,
                 items=[dict(i) for i in (items if items is not None else [KITE])],
                 currency=currency, restore_url=f"https://kite.example/cart/{cart_id}")
    if email is None and phone is None and orders_count is None and not contact:
        return
    fields: dict[str, Any] = {"cart_id": cart_id, "visitor_id": visitor_id, **contact}
    if email is not None:
        fields["email"] = email
    if phone is not None:
        fields["phone"] = phone
    if orders_count is not None:
        fields["orders_count"] = orders_count
    engine.track("contact_captured", at=at, **fields)


def seed_overdue_carts(url: str, n: int) -> None:
    """n carts with an e-mail, left 3 hours ago: abandonment and reminder 1 are both overdue."""
    engine = cr.Engine(store=url)
    left = datetime.now(UTC) - 3 * HOUR
    try:
        engine.track_many(
            [e for i in range(n) for e in (
                {"type": "cart_updated", "at": left, "cart_id": f"c{i}", "visitor_id": f"v{i}",
                 "currency": "EUR",
                 "items": [{"sku": "K", "name": "Kite", "price": Decimal("19.99"), "quantity": 1}]},
                {"type": "contact_captured", "at": left, "cart_id": f"c{i}",
                 "email": f"shopper{i}@example.com"})])
        engine.flush()
    finally:
        engine.close()


def run_at(engine: cr.Engine, clock: cr.ManualClock, when: datetime) -> int:
    """Moves the clock to `when` (never back) and runs what is due there."""
    assert when >= clock.now(), f"{when} is before the clock ({clock.now()})"
    clock.set(when)
    return engine.run_due()


# Two steps: the first reminder moves each journey to its second step, still running.
TWO_STEPS = {"name": "two-steps", "abandon_after": "30m", "paths": [{"name": "all", "steps": [
    {"after": "1h", "channels": ["email"]}, {"after": "1d", "channels": ["email"]}]}]}


def started_journeys(make_engine, clock: cr.ManualClock, carts: int) -> tuple[cr.Engine, list[str]]:
    """An engine on TWO_STEPS with `carts` carts whose journeys have started (abandoned,
    first reminders due at T0 + 1 h 30 min); returns it and the list its e-mail channel
    appends each handed message id to."""
    handed: list[str] = []
    engine = make_engine(flows=[TWO_STEPS], channels={"email": cr.CallbackChannel(
        lambda m: handed.append(m["message_id"]))})
    for i in range(carts):
        add_cart(engine, f"c{i}", email=f"shopper{i}@example.com")
    engine.flush()
    run_at(engine, clock, T0 + timedelta(minutes=40))  # abandoned: the journeys start
    return engine, handed


def sent(engine: cr.Engine, cart_id: str | None = None, email: str | None = None) -> list[dict]:
    return [m for m in engine.messages(cart_id=cart_id, email=email) if m["status"] == "sent"]
