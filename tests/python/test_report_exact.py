"""A report you can trust: three thousand shoppers whose fates are decided up front, run
through the real engine on a ManualClock, and engine.report() checked exactly against counts
computed from the construction alone.

Every shopper's fate follows from their index: buys at once, leaves no address, ignores
every reminder, opens or clicks reminder k, orders after reminder k (with the coupon or
not), unsubscribes after reminder k; a third of those with an address are returning
customers. The flow is the default one (API.md) with an experiment on the customers' first
reminder (plain / coupon / holdout). When each reminder goes is worked out here from
PLAYBOOKS section 7, not asked of the engine: S1 (step 1 an hour after the cart was last
touched, later steps after the step before), S2 (the visitors' second reminder waits 10 h,
6 h after an open, 8 h after a click; the third follows the branch taken), S4 (an order ends
the journey) and an unsubscribe ending it too. The clock stops only at the times this model
gives, so a wrong model shows as a reminder sent at the wrong time.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

import cartrecovery as cr
from conftest import DAY, HOUR, SETTINGS, T0

MINUTE = timedelta(minutes=1)
SHOPPERS = 3000
PER_SLOT, SLOT = 25, 9 * MINUTE  # 25 arrivals every 9 minutes: 120 slots over 18 hours
EXPERIMENT, CODE = "first-reminder", "RECOVER10"
ARMS = [("plain", 1), ("coupon", 1), ("holdout", 1)]
STAGES = ["contact", "shipping_address", "shipping_method", "payment"]
FLOW = "cart-recovery"

# The visitors' second reminder after the first (S2), and the third after the second.
VISITOR_DELAYS = {"unopened": (10 * HOUR, 2 * DAY), "opened": (6 * HOUR, DAY), "clicked": (8 * HOUR, DAY)}
CUSTOMER_DELAYS = (DAY, 2 * DAY)
OPEN_AFTER, CLICK_AFTER, ORDER_AFTER, UNSUBSCRIBE_AFTER = 2 * HOUR, HOUR, 3 * HOUR, 4 * HOUR


@dataclass(frozen=True)
class Fate:
    name: str
    opens: tuple = ()            # reminders opened (two hours after each is sent)
    clicks: tuple = ()           # reminders clicked (opened at +30 min, clicked at +1 h)
    orders_after: int | None = None   # orders three hours after this reminder
    coupon: bool = False
    unsubscribes_after: int | None = None  # four hours after this reminder
    gives_address: bool = True
    buys_at_once: bool = False


FATES = [
    Fate("buys at once", buys_at_once=True),
    Fate("leaves no address", gives_address=False),
    Fate("ignores every reminder"),
    *[Fate(f"opens reminder {k}", opens=(k,)) for k in (1, 2, 3)],
    *[Fate(f"clicks reminder {k}", clicks=(k,)) for k in (1, 2, 3)],
    *[Fate(f"orders after reminder {k}", orders_after=k) for k in (1, 2, 3)],
    *[Fate(f"orders with the coupon after reminder {k}", orders_after=k, coupon=True) for k in (1, 2, 3)],
    Fate("clicks reminder 1 and orders", clicks=(1,), orders_after=1),
    Fate("opens reminder 1, orders after reminder 2", opens=(1,), orders_after=2),
    *[Fate(f"unsubscribes after reminder {k}", unsubscribes_after=k) for k in (1, 2, 3)],
]


def expected_arm(contact_key: str) -> str:
    """The documented draw (offer.h AssignVariant), computed here independently of the engine."""
    digest = hashlib.sha256(b"cartrecovery.ab.v1\0" + EXPERIMENT.encode() + b"\0" + contact_key.encode()).digest()
    point = (int.from_bytes(digest[:8], "big") * sum(w for _, w in ARMS)) >> 64
    for name, weight in ARMS:
        if point < weight:
            return name
        point -= weight
    raise AssertionError("unreachable")


def experiment_flow() -> cr.Flow:
    flow = cr.default_flow().to_dict()
    customer = next(p for p in flow["paths"] if p["name"] == "customer")
    customer["steps"][0].update({"experiment": EXPERIMENT, "holdout": 1, "variants": [
        {"name": "plain", "weight": 1}, {"name": "coupon", "weight": 1, "coupon": CODE}]})
    return cr.Flow.from_json(flow)


def day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


@dataclass
class Construction:
    """Everything the engine should report, worked out from the shoppers' fates."""
    plan: dict = field(default_factory=lambda: defaultdict(list))  # time -> events (or callables)
    messages: list = field(default_factory=list)   # one dict per message, with its report keys
    orders: list = field(default_factory=list)     # orders that follow a sent reminder
    sends: set = field(default_factory=set)        # (cart, step, sent_at)
    trials: Counter = field(default_factory=Counter)
    conversions: Counter = field(default_factory=Counter)
    funnel: dict = field(default_factory=lambda: {s: Counter() for s in ["cart", *STAGES]})

    def at(self, when: datetime, event=None) -> None:
        self.plan[when]  # a run time even with no event: a reminder falls due
        if event is not None:
            self.plan[when].append(event)

    def message(self, path, step, when, status="sent", variant="", **flags) -> None:
        self.messages.append({"flow": FLOW, "path": path, "step": step, "channel": "email",
                              "day": day(when), "variant": variant, "status": status,
                              "opened": flags.get("opened", False), "clicked": flags.get("clicked", False),
                              "unsubscribed": flags.get("unsubscribed", False)})

    def shopper(self, i: int, engine: cr.Engine) -> None:
        fate = FATES[i % len(FATES)]
        cart, visitor, email = f"cart-{i:04d}", f"v-{i:04d}", f"shopper{i:04d}@example.com"
        customer = fate.gives_address and (i // len(FATES)) % 3 == 0
        stage = STAGES[(i // 7) % len(STAGES)] if fate.gives_address else "cart"
        price, quantity = Decimal(10 + i % 17) + Decimal("0.99"), 1 + i % 3
        value = price * quantity
        arrives = T0 + (i // PER_SLOT) * SLOT
        self.at(arrives, {"type": "cart_updated", "cart_id": cart, "visitor_id": visitor, "currency": "EUR",
                          "items": [{"sku": f"KITE-{i % 17}", "name": "Kite", "price": price, "quantity": quantity}]})
        self.funnel[stage]["carts"] += 1
        if not fate.gives_address:
            # Abandoned an hour later; the flow refuses it (no address) and says so.
            self.at(arrives + HOUR)
            self.message("visitor", 1, arrives + HOUR, status="suppressed")
            self.funnel[stage]["abandoned"] += 1
            return
        self.at(arrives + 2 * MINUTE, {"type": "contact_captured", "cart_id": cart, "visitor_id": visitor,
                                       "email": email, "first_name": "Sam", "consent": {"email": True},
                                       "orders_count": 1 + i % 4 if customer else 0})
        left = arrives + 4 * MINUTE
        self.at(left, {"type": "checkout_stage", "cart_id": cart, "stage": stage})
        if fate.buys_at_once:
            self.at(arrives + 10 * MINUTE, {"type": "order_placed", "order_id": f"o-{i}", "cart_id": cart,
                                            "value": value, "currency": "EUR"})
            return
        self.funnel[stage]["abandoned"] += 1

        # When each reminder goes (S1, S2), whether or not it is sent.
        path = "customer" if customer else "visitor"
        first = left + HOUR
        if customer:
            second = first + CUSTOMER_DELAYS[0]
            third = second + CUSTOMER_DELAYS[1]
        else:
            branch = "clicked" if 1 in fate.clicks else "opened" if 1 in fate.opens else "unopened"
            second = first + VISITOR_DELAYS[branch][0]
            third = second + VISITOR_DELAYS[branch][1]
        times = {1: first, 2: second, 3: third}
        last = fate.orders_after or fate.unsubscribes_after or 3  # S4: nothing after that
        arm = expected_arm(f"e:{email}") if customer else ""
        if customer:
            self.trials[arm] += 1
            self.conversions[arm] += fate.orders_after is not None
        sent = [] if arm == "holdout" else list(range(1, last + 1))
        if arm == "holdout":  # held out: nothing from step 1 on, the decision recorded
            self.at(first)
            self.message(path, 1, first, status="suppressed", variant="holdout")

        def message_id(k):
            def find():
                [m] = [m for m in engine.messages(cart_id=cart) if m["step"] == k and m["status"] == "sent"]
                return m["message_id"]
            return find

        for k in sent:
            when = times[k]
            self.at(when)
            self.sends.add((cart, k, when))
            self.message(path, k, when, variant=arm if k == 1 else "",
                         opened=k in fate.opens or k in fate.clicks, clicked=k in fate.clicks,
                         unsubscribed=k == fate.unsubscribes_after)
            if k in fate.opens:
                self.at(when + OPEN_AFTER, lambda k=k: {"type": "message_opened", "message_id": message_id(k)()})
            if k in fate.clicks:
                self.at(when + 30 * MINUTE, lambda k=k: {"type": "message_opened", "message_id": message_id(k)()})
                self.at(when + CLICK_AFTER, lambda k=k: {"type": "link_clicked", "message_id": message_id(k)(),
                                                         "url": f"https://kite.example/cart/{cart}"})
        if fate.orders_after:
            k = fate.orders_after
            when = times[k] + ORDER_AFTER  # a held-out customer orders all the same
            self.at(when, {"type": "order_placed", "order_id": f"o-{i}", "cart_id": cart, "email": email,
                           "value": value, "currency": "EUR", **({"coupon": CODE} if fate.coupon else {})})
            self.funnel[stage]["recovered"] += 1
            if k in sent:  # the last reminder before it gets it
                self.orders.append({"flow": FLOW, "path": path, "step": k, "channel": "email", "day": day(when),
                                    "variant": arm if k == 1 else "", "value": value, "coupon": fate.coupon})
        if fate.unsubscribes_after:
            self.at(times[fate.unsubscribes_after] + UNSUBSCRIBE_AFTER,
                    {"type": "unsubscribed", "email": email})

    def report(self, by, **where) -> dict:
        """What engine.report(by=by, **where) must say, keyed by the `by` values."""
        rows: dict = defaultdict(lambda: Counter(revenue=Decimal("0.00")))
        for m in self.messages:
            if all(m[k] == v for k, v in where.items()):
                r = rows[tuple(m[k] for k in by)]
                r[m["status"]] += 1
                for flag in ("opened", "clicked", "unsubscribed"):
                    r[flag] += m[flag]
        for o in self.orders:
            if all(o[k] == v for k, v in where.items()):
                r = rows[tuple(o[k] for k in by)]
                r["orders"] += 1
                r["orders_with_coupon"] += o["coupon"]
                r["revenue"] += o["value"]
        return {key: {"sent": r["sent"], "delivered": r["sent"], "bounced": 0, "failed": 0,
                      "suppressed": r["suppressed"], "opened": r["opened"], "clicked": r["clicked"],
                      "unsubscribed": r["unsubscribed"], "orders": r["orders"],
                      "orders_with_coupon": r["orders_with_coupon"], "revenue": r["revenue"],
                      "ctr": r["clicked"] / r["sent"] if r["sent"] else 0.0,
                      "conversion": r["orders"] / r["sent"] if r["sent"] else 0.0}
                for key, r in rows.items()}


@pytest.fixture(scope="module")
def world():
    """The engine after every shopper's fate has played out, and the construction. The store
    is SQLite in memory: the same SQL as a file, without thousands of fsyncs."""
    clock = cr.ManualClock(T0)
    settings = {**SETTINGS, "coupon_pools": [{"name": CODE, "kind": "static", "code": CODE, "percent": 10}]}
    engine = cr.Engine(store=":memory:",
                       flows=[experiment_flow()], clock=clock, settings=settings)
    built = Construction()
    for i in range(SHOPPERS):
        built.shopper(i, engine)
    # Events at a time go in before the jobs due then, as a live worker would find them.
    for when in sorted(built.plan):
        clock.set(when)
        events = [e() if callable(e) else e for e in built.plan[when]]
        if events:
            engine.track_many(events)
        engine.run_due()
    clock.set(max(built.plan) + 30 * DAY)
    engine.run_due()
    yield engine, built
    engine.close()


def test_the_construction_covers_every_fate_on_both_paths_and_every_arm(world):
    _, built = world
    paths = {(m["path"], m["step"], m["status"]) for m in built.messages}
    assert {("customer", k, "sent") for k in (1, 2, 3)} <= paths and {("visitor", k, "sent") for k in (1, 2, 3)} <= paths
    assert min(built.trials[arm] for arm, _ in ARMS) > 100
    assert len({m["day"] for m in built.messages}) >= 4 and len({o["day"] for o in built.orders}) >= 4
    assert all(sum(c.values()) for c in built.funnel.values())


def test_every_reminder_goes_when_the_playbook_says(world):
    engine, built = world
    sent = {(m["cart_id"], m["step"], m["sent_at"]) for i in range(SHOPPERS)
            for m in engine.messages(cart_id=f"cart-{i:04d}") if m["status"] == "sent"}
    assert sent == built.sends
    assert engine.status()["jobs_due"] == 0


@pytest.mark.parametrize("by, where", [
    (("flow", "step", "channel"), {}),
    (("day",), {}),
    (("flow", "path", "step", "channel"), {}),
    (("path", "day"), {}),
    ((), {}),
    (("step",), {"path": "visitor"}),
    (("day",), {"path": "customer", "step": 1}),
    (("path",), {"channel": "email", "flow": FLOW}),
    (("variant",), {}),
    (("variant", "path", "step"), {}),
    (("day",), {"variant": "coupon"}),
], ids=lambda v: ",".join(v) if isinstance(v, tuple) else ",".join(f"{k}={x}" for k, x in v.items()) or "all")
def test_the_report_matches_the_construction_exactly(world, by, where):
    engine, built = world
    rows = engine.report(by=by, **where)
    got = {tuple(r[k] for k in by): {k: v for k, v in r.items() if k not in by and k != "currency"} for r in rows}
    assert got == built.report(by, **where)
    assert {r["currency"] for r in rows if r["orders"]} == {"EUR"}


def test_the_experiment_report_counts_each_arm_exactly(world):
    engine, built = world
    [held_out] = engine.report(by=(), variant="holdout")
    assert (held_out["sent"], held_out["suppressed"], held_out["orders"]) == (0, built.trials["holdout"], 0)
    results = {r["variant"]: r for r in engine.experiment_report(EXPERIMENT)}
    assert set(results) == {arm for arm, _ in ARMS}
    for arm, _ in ARMS:
        assert (results[arm]["trials"], results[arm]["conversions"]) == (built.trials[arm], built.conversions[arm])
        assert results[arm]["rate"] == pytest.approx(built.conversions[arm] / built.trials[arm])
    assert results["holdout"]["vs_holdout"] is None
    assert results["coupon"]["vs_holdout"]["difference"] == pytest.approx(
        built.conversions["coupon"] / built.trials["coupon"] - built.conversions["holdout"] / built.trials["holdout"])


def test_the_funnel_counts_every_cart_by_where_it_was_left(world):
    engine, built = world
    funnel = engine.funnel()
    assert [f["stage"] for f in funnel] == ["cart", *STAGES]
    for f in funnel:
        c = built.funnel[f["stage"]]
        assert (f["carts"], f["abandoned"], f["recovered"]) == (c["carts"], c["abandoned"], c["recovered"]), f["stage"]
    assert sum(f["carts"] for f in funnel) == SHOPPERS
