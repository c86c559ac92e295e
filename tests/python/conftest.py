"""Shared fixtures for the end-to-end Python tests.

Time is a ManualClock that starts on Monday 2026-03-02 09:00 UTC (T0); every engine lives on
a SQLite file under the test's tmp_path. Helpers add a cart with items and a contact, and
move the clock to an exact time and run what is due there.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

import pytest

import cartrecovery as cr

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

SETTINGS = {"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/"}

KITE = {"sku": "KITE-1", "name": "Kite Pro 9m", "price": Decimal("19.99"), "quantity": 3}
BOARD = {"sku": "BOARD-2", "name": "Twin-Tip Board", "price": "249.00", "quantity": 1}


def store_url(path) -> str:
    return f"sqlite:///{path}"


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


def run_at(engine: cr.Engine, clock: cr.ManualClock, when: datetime) -> int:
    """Moves the clock to `when` (never back) and runs what is due there."""
    assert when >= clock.now(), f"{when} is before the clock ({clock.now()})"
    clock.set(when)
    return engine.run_due()


def sent(engine: cr.Engine, cart_id: str | None = None, email: str | None = None) -> list[dict]:
    return [m for m in engine.messages(cart_id=cart_id, email=email) if m["status"] == "sent"]
