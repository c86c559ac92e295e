"""A day of synthetic shop traffic pushed through the real engine on a real store.

Shoppers arrive over 24 hours, fill carts, some type their e-mail at checkout, some buy at
once and the rest leave. Reminders go out as the flow decides; each reminder may be opened,
clicked and followed by an order, drawn from a seeded random generator so that a run is
repeatable. Time is a ManualClock: four days pass in seconds.
"""
from __future__ import annotations

import heapq
import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

from .channels import CallbackChannel, Channel
from .clock import ManualClock
from .engine import Engine

CATALOGUE = [
    ("KITE-DELTA", "Delta kite", Decimal("39.90")),
    ("KITE-BOX", "Box kite", Decimal("54.00")),
    ("KITE-FOIL", "Foil kite 3 m²", Decimal("189.00")),
    ("LINE-50", "Flying line 50 m", Decimal("12.50")),
    ("REEL-PRO", "Winder reel", Decimal("24.90")),
    ("BAG", "Kite bag", Decimal("19.00")),
]
FIRST_NAMES = ["Anna", "Jan", "Zofia", "Lukas", "Marie", "Chen", "Sara", "Omar", "Iris", "Tomas"]


@dataclass(order=True)
class _Planned:
    at: datetime
    seq: int
    event: dict = field(compare=False)


@dataclass
class SimulationResult:
    shoppers: int = 0
    carts: int = 0
    with_contact: int = 0
    bought_at_once: int = 0
    abandoned: int = 0
    abandoned_with_contact: int = 0
    reminders: int = 0
    opened: int = 0
    clicked: int = 0
    recovered_orders: int = 0
    recovered_revenue: Decimal = Decimal("0")
    report: list = field(default_factory=list)
    by_step: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)


class Simulation:
    def __init__(self, store: str, shoppers: int = 400, seed: int = 7,
                 start: datetime = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc),
                 also: Channel | None = None, settings: dict | None = None):
        self.rng = random.Random(seed)
        self.shoppers = shoppers
        self.start = start
        self.clock = ManualClock(start)
        self.also = also
        self.plan: list[_Planned] = []
        self.seq = 0
        self.result = SimulationResult(shoppers=shoppers)
        self.cart_value: dict[str, Decimal] = {}
        self.ordered: set[str] = set()
        channel = CallbackChannel(self._on_message)
        base = {"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
                "contact_email": "help@kite.example", "contact_phone": "+48 22 123 45 67"}
        base.update(settings or {})
        self.engine = Engine(store=store, channels={"email": channel}, clock=self.clock, settings=base)

    # Every reminder the engine sends comes through here (the worker's thread).
    def _on_message(self, message: dict) -> None:
        if self.also is not None:
            self.also._send(message)
        r = self.result
        r.reminders += 1
        now = self.clock.now()
        mid = message["message_id"]
        if self.rng.random() < 0.45:
            opened = now + timedelta(minutes=self.rng.randint(10, 8 * 60))
            self._later(opened, {"type": "message_opened", "message_id": mid})
            r.opened += 1
            if self.rng.random() < 0.40:
                clicked = opened + timedelta(minutes=self.rng.randint(1, 60))
                self._later(clicked, {"type": "link_clicked", "message_id": mid,
                                      "url": "https://kite.example/cart"})
                r.clicked += 1
                if self.rng.random() < 0.55:
                    self._later(clicked + timedelta(minutes=self.rng.randint(3, 30)),
                                {"type": "order_placed", "order_id": f"R-{mid[-8:]}",
                                 "email": message["to"], "_recovered": True})
            elif self.rng.random() < 0.03:
                self._later(opened + timedelta(minutes=2),
                            {"type": "unsubscribed", "email": message["to"]})

    def _later(self, at: datetime, event: dict) -> None:
        self.seq += 1
        heapq.heappush(self.plan, _Planned(at, self.seq, event))

    def _plan_shopper(self, i: int) -> None:
        rng = self.rng
        arrive = self.start + timedelta(seconds=rng.randint(0, 24 * 3600 - 1))
        visitor, cart = f"v{i:05d}", f"cart-{i:05d}"
        self._later(arrive, {"type": "page_view", "visitor_id": visitor, "page_type": "home"})
        t = arrive + timedelta(minutes=rng.randint(1, 6))
        self._later(t, {"type": "page_view", "visitor_id": visitor, "page_type": "product",
                        "product_id": rng.choice(CATALOGUE)[0]})
        if rng.random() < 0.25:
            return  # browsed and left before adding anything (a warm lead, no cart)
        self.result.carts += 1
        items = []
        for sku, name, price in rng.sample(CATALOGUE, rng.randint(1, 3)):
            items.append({"sku": sku, "name": name, "price": price, "quantity": rng.randint(1, 2),
                          "image_url": f"https://kite.example/img/{sku.lower()}.jpg"})
            t += timedelta(minutes=rng.randint(1, 4))
            self._later(t, {"type": "cart_updated", "cart_id": cart, "visitor_id": visitor,
                            "items": list(items), "currency": "EUR",
                            "restore_url": f"https://kite.example/cart/restore/{cart}"})
        self.cart_value[cart] = sum(it["price"] * it["quantity"] for it in items)
        if rng.random() < 0.75:
            self.result.with_contact += 1
            t += timedelta(minutes=rng.randint(1, 5))
            customer = rng.random() < 0.3
            self._later(t, {"type": "contact_captured", "cart_id": cart, "visitor_id": visitor,
                            "email": f"shopper{i:05d}@example.com",
                            "first_name": rng.choice(FIRST_NAMES),
                            "language": rng.choice(["en-GB", "pl-PL,pl;q=0.9", "de-DE"]),
                            "orders_count": rng.randint(1, 5) if customer else 0,
                            "consent": {"email": True, "personalization": rng.random() < 0.6}})
            stage = rng.choice(["shipping_address", "shipping_method", "payment"])
            t += timedelta(minutes=rng.randint(1, 5))
            self._later(t, {"type": "checkout_stage", "cart_id": cart, "stage": stage})
        if rng.random() < 0.35:
            self.result.bought_at_once += 1
            self._later(t + timedelta(minutes=rng.randint(2, 20)),
                        {"type": "order_placed", "order_id": f"O-{i:05d}", "cart_id": cart,
                         "value": self.cart_value[cart], "currency": "EUR"})

    def run(self, days_after: int = 4, tick: timedelta = timedelta(minutes=5),
            progress: Callable[[float], None] | None = None) -> SimulationResult:
        for i in range(self.shoppers):
            self._plan_shopper(i)
        end = self.start + timedelta(days=1 + days_after)
        total = (end - self.start) / tick
        steps = 0
        now = self.start
        while now < end:
            now += tick
            self.clock.set(now)
            batch = []
            while self.plan and self.plan[0].at <= now:
                ev = dict(heapq.heappop(self.plan).event)
                recovered = ev.pop("_recovered", False)
                if recovered:
                    if ev["email"] in self.ordered:
                        continue  # one recovered order per shopper
                    self.ordered.add(ev["email"])
                ev["at"] = now
                batch.append(ev)
            if batch:
                self.engine.track_many(batch)
            self.engine.run_due()
            steps += 1
            if progress:
                progress(steps / total)
        self._summarize()
        return self.result

    def _summarize(self) -> None:
        r = self.result
        r.report = self.engine.report(by=("flow", "path", "step", "channel"))
        for row in r.report:
            key = f"{row['path']} step {row['step']}"
            r.by_step[key] = row
        totals = self.engine.report(by=())
        if totals:
            r.recovered_orders = totals[0]["orders"]
            r.recovered_revenue = totals[0]["revenue"]
        r.status = self.engine.status()
        for i in range(self.shoppers):
            c = self.engine.cart(f"cart-{i:05d}")
            if c is not None and c["state"] in ("abandoned", "expired", "recovered"):
                r.abandoned += 1
                r.abandoned_with_contact += c["contact"] is not None and c["contact"].startswith("e:")

    def close(self) -> None:
        self.engine.close()


def progress_bar(stream=None, width: int = 30, label: str = "replaying") -> Callable[[float], None]:
    """A dependency-free progress bar on one terminal line (stderr by default)."""
    stream = stream if stream is not None else sys.stderr
    last = [-1]
    # On a terminal the bar redraws in place; in a log (CI) it prints every tenth instead.
    step = 1 if stream.isatty() else 10

    def show(fraction: float) -> None:
        pct = min(100, int(fraction * 100))
        if pct // step == last[0] // step and pct < 100 or pct == last[0]:
            return
        last[0] = pct
        filled = width * pct // 100
        bar = f"  {label}  [{'#' * filled}{'.' * (width - filled)}] {pct:3d}%"
        if step == 1:
            stream.write("\r" + bar + ("\n" if pct >= 100 else ""))
        else:
            stream.write(bar + "\n")
        stream.flush()

    return show
