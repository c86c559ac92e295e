"""Retention: every kind of row has a window, the worker prunes in bounded batches, reports
keep their numbers through daily aggregates, SQLite hands the space back, and a year of
steady traffic (a ManualClock, sped up) leaves a store whose size levels off."""
from __future__ import annotations

import os
import random
import sqlite3
from datetime import timedelta
from decimal import Decimal

import pytest

import cartrecovery as cr
from conftest import DAY, HOUR, KITE, ON_POSTGRES, T0, add_cart, run_at, store_execute

# Short windows so that a simulated year reaches its steady state within the year.
WINDOWS = {"retention_events_days": 20, "retention_bodies_days": 10, "retention_carts_days": 30,
           "retention_offers_days": 30, "retention_reports_days": 60}
SETTINGS = {
    "shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
    "coupon_pools": [{"name": "exit10", "kind": "generated", "percent": 10, "prefix": "KITE",
                      "valid_for": "7d"}],
    "exit_intent": {"pool": "exit10", "incentive": {"share": 1.0},
                    "experiments": {"coupon": {"variants": {"A": 1, "B": 1}, "holdout": 1}}},
}
# Pruned history is kept per UTC day: reports over whole days are exact.
MIDNIGHT = T0.replace(hour=0)
TABLES = ["events", "carts", "contacts", "visitors", "journeys", "messages", "orders", "offers",
          "coupons", "jobs"]


def _rows(db_path) -> dict:
    return {t: int(store_execute(db_path, f"SELECT count(*) FROM {t}")[0][0]) for t in TABLES}


def _reports(engine, since, until):
    return (engine.report(since=since, until=until, by=("day", "flow", "path", "step", "channel")),
            engine.report(since=since, until=until, by=()),
            engine.report(since=since, until=until, by=("variant",), flow="cart-recovery"),
            engine.funnel(since=since, until=until),
            engine.experiment_report("coupon", since=since, until=until))


def _day_of_traffic(engine, rng, day: int, per_day: int) -> None:
    """Shoppers who browse, fill a cart, give an address; some buy at once, some come back
    after a reminder, some open or click, some leave for good; popups for a few."""
    start = T0 + day * DAY
    for i in range(per_day):
        n = f"{day}-{i}"
        at = start + timedelta(minutes=20 * i)
        engine.track("page_view", at=at, visitor_id=f"v{n}", page_type=rng.choice(["product", "category", "home"]))
        add_cart(engine, f"c{n}", email=f"s{n}@example.com", visitor_id=f"v{n}", at=at,
                 items=[{"sku": "K", "name": "Kite", "price": Decimal(rng.choice(["19.99", "249.00"])),
                         "quantity": 1}])
        engine.track("checkout_stage", at=at, cart_id=f"c{n}",
                     stage=rng.choice(["contact", "shipping_address", "payment"]))
        if rng.random() < 0.25:
            engine.track("order_placed", at=at + timedelta(minutes=5), order_id=f"o{n}", cart_id=f"c{n}",
                         value="19.99", currency="EUR")
        elif rng.random() < 0.3:
            engine.exit_intent(visitor_id=f"v{n}", cart_id=f"c{n}")


def _engagement(engine, rng, day: int) -> None:
    for m in engine.messages(limit=None):
        if m["status"] != "sent" or m["sent_at"] < T0 + (day - 1) * DAY or m["opened_at"]:
            continue
        r = rng.random()
        at = m["sent_at"] + HOUR
        if r < 0.3:
            engine.track("message_opened", at=at, message_id=m["message_id"])
        if r < 0.12:
            engine.track("link_clicked", at=at, message_id=m["message_id"], url="https://kite.example/")
        if r < 0.08:
            engine.track("order_placed", at=at + HOUR, order_id=f"r-{m['message_id']}",
                         cart_id=m["cart_id"], value="249.00", currency="EUR")


def test_a_year_of_steady_traffic_levels_off_and_reports_stay_the_same(make_engine, clock, db_path):
    engine = make_engine(settings={**SETTINGS, **WINDOWS})
    rng = random.Random(11)
    days, per_day = 365, 6
    sizes, rows = {}, {}
    early = None
    for day in range(days):
        clock.set(T0 + day * DAY)
        _day_of_traffic(engine, rng, day, per_day)
        for hour in (12, 24):
            run_at(engine, clock, T0 + day * DAY + hour * HOUR)  # the worker prunes as it runs
        _engagement(engine, rng, day)
        if day == 45:
            # The first month, before any of it is pruned (reports keep 60 days of rows).
            early = _reports(engine, MIDNIGHT, MIDNIGHT + 30 * DAY)
            assert early[1][0]["sent"] > 100 and early[1][0]["orders"] > 10
        if day % 30 == 29:
            rows[day] = _rows(db_path)
            if not ON_POSTGRES:
                sizes[day] = os.path.getsize(db_path)
    # Reports about the pruned first month are what they were before pruning.
    assert _rows(db_path)["messages"] < rows[59]["messages"] * 2  # first month long gone
    assert _reports(engine, MIDNIGHT, MIDNIGHT + 30 * DAY) == early
    # Steady state: rows (and the SQLite file) stop growing once every window is full.
    total = {d: sum(r.values()) for d, r in rows.items()}
    months = sorted(total)
    assert total[months[-1]] <= 1.15 * total[months[3]], total
    assert total[months[2]] > total[months[0]], total  # it did grow before levelling off
    if sizes:
        assert sizes[months[-1]] <= 1.25 * sizes[months[3]], sizes
    # What never levels off is the per-day aggregate: a few rows per day.
    per_day_rows = int(store_execute(db_path, "SELECT count(*) FROM report_days")[0][0]) / days
    assert per_day_rows < 40


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's table sizes (on SQLite the year-long run measures the file)")
def test_on_postgresql_the_tables_stop_growing(make_engine, clock, db_path):
    engine = make_engine(settings={**SETTINGS, **WINDOWS})
    rng = random.Random(3)
    tables = ", ".join(TABLES + ["message_bodies", "report_days", "funnel_days", "offer_days", "lead_days",
                                 "lead_totals", "cart_event_counts", "consent_log"])
    sizes = {}
    for day in range(150):
        clock.set(T0 + day * DAY)
        _day_of_traffic(engine, rng, day, 6)
        for hour in (12, 24):
            run_at(engine, clock, T0 + day * DAY + hour * HOUR)
        _engagement(engine, rng, day)
        if day % 30 == 29:
            # The tables rewritten to what their live rows take: in production autovacuum
            # lets the pruned rows' space be reused; here a simulated month passes in a
            # second, and what plain VACUUM can reclaim then depends on the server's other
            # transactions, which would measure the machine rather than the store.
            store_execute(db_path, f"VACUUM FULL {tables}")
            sizes[day] = int(store_execute(
                db_path, "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                         " JOIN pg_namespace n ON n.oid = c.relnamespace"
                         " WHERE n.nspname = current_schema() AND c.relkind = 'r'")[0][0])
    print("table bytes by day:", sizes)
    # Every window is full by day 90 (reports keep 60 days); after it only the per-day
    # aggregates (a few rows a day) still grow. Without pruning the tables grow by half
    # within those two months.
    assert max(sizes[119], sizes[149]) <= 1.3 * sizes[89], sizes


def test_reports_keep_every_number_when_all_rows_are_pruned(make_engine, clock, db_path):
    engine = make_engine(settings={**SETTINGS, **WINDOWS})
    rng = random.Random(5)
    for day in range(10):
        clock.set(T0 + day * DAY)
        _day_of_traffic(engine, rng, day, 10)
        for hour in (6, 12, 18, 24):
            run_at(engine, clock, T0 + day * DAY + hour * HOUR)
        _engagement(engine, rng, day)
    clock.set(T0 + 15 * DAY)
    engine.run_due()
    since, until = MIDNIGHT, MIDNIGHT + 15 * DAY
    before = _reports(engine, since, until)
    assert before[1][0]["sent"] > 0 and before[1][0]["orders"] > 0 and before[1][0]["opened"] > 0
    assert any(v["trials"] for v in before[4])
    clock.set(T0 + 200 * DAY)
    pruned = engine.prune()
    assert pruned["messages"] and pruned["orders"] and pruned["carts"] and pruned["offers"]
    left = _rows(db_path)
    assert left["messages"] == left["orders"] == left["carts"] == left["offers"] == 0
    assert left["events"] == left["journeys"] == left["contacts"] == left["visitors"] == 0
    assert _reports(engine, since, until) == before
    assert engine.prune() == {k: 0 for k in pruned}  # nothing left to do


def _shoppers_over_five_days(engine) -> None:
    """Shoppers of every temperature, several of them seen on more than one day, so that a
    range's temperature takes what each day said of them."""
    at = lambda day, hour=10: MIDNIGHT + day * DAY + hour * HOUR  # noqa: E731
    view = lambda visitor, page, day: engine.track("page_view", at=at(day), visitor_id=visitor,  # noqa: E731
                                                   page_type=page)
    view("v-cold", "home", 0)
    view("v-warm-later", "home", 0)
    view("v-warm-later", "category", 2)  # cold on day 0, warm over days 0-4
    view("v-warm", "product", 1)
    add_cart(engine, "c-hot", visitor_id="v-hot", email="hot@example.com", at=at(0))  # contact stage
    view("v-hot", "home", 3)
    add_cart(engine, "c-buyer", visitor_id="v-buyer", email="buyer@example.com", at=at(1))
    engine.track("order_placed", at=at(3), order_id="o-buyer", cart_id="c-buyer", value="10",
                 currency="EUR")  # hot on days 1-2, no lead over days 0-4
    engine.track("cart_updated", at=at(2), cart_id="c-browsing", visitor_id="v-cart",
                 items=[dict(KITE)], currency="EUR")  # a cart that never reached checkout: warm
    engine.track("cart_updated", at=at(4), cart_id="c-anonymous", items=[dict(KITE)], currency="EUR")
    engine.track("checkout_stage", at=at(4, 11), cart_id="c-anonymous", stage="payment")


def test_leads_of_a_pruned_period_stay_the_same(make_engine, clock, db_path):
    engine = make_engine(settings={**SETTINGS, **WINDOWS})
    _shoppers_over_five_days(engine)
    for day in range(1, 10):  # the reminders run their course: journeys end, carts may go
        run_at(engine, clock, T0 + day * DAY)
    ranges = [(MIDNIGHT + a * DAY, MIDNIGHT + b * DAY) for a, b in ((0, 5), (0, 1), (1, 3), (2, 5), (3, 4))]
    ranges.append((None, None))
    before = [engine.leads(since, until) for since, until in ranges]
    days = [engine.leads(MIDNIGHT + d * DAY, MIDNIGHT + (d + 1) * DAY) for d in range(5)]
    assert before[0] == {"cold": 1, "warm": 3, "hot": 2}, before[0]
    assert before[1] == {"cold": 2, "warm": 0, "hot": 1}, before[1]
    # The events go first (20 days), then carts and contacts (30); orders stay (60 days).
    clock.set(T0 + 40 * DAY)
    assert engine.prune()["events"] > 0
    left = _rows(db_path)
    assert left["events"] == 0 and left["carts"] == 0, left
    assert [engine.leads(since, until) for since, until in ranges] == before
    # Their export shows the kept days; forgetting them keeps the counts and drops the
    # visitor id from those days.
    assert {d["who"] for d in engine.export(email="hot@example.com")["lead_days"]} == {"v-hot"}
    engine.forget(email="hot@example.com")
    assert [engine.leads(since, until) for since, until in ranges] == before
    assert store_execute(db_path, "SELECT count(*) FROM lead_days WHERE who = 'v-hot'")[0][0] in (0, "0")
    # Past the reports window (60 days) only counts per day are left, without any visitor
    # id: a day's leads stay, and a longer range adds its days.
    clock.set(T0 + 70 * DAY)
    engine.prune()
    assert store_execute(db_path, "SELECT count(*) FROM lead_days")[0][0] in (0, "0")
    assert [engine.leads(MIDNIGHT + d * DAY, MIDNIGHT + (d + 1) * DAY) for d in range(5)] == days
    assert engine.leads(MIDNIGHT, MIDNIGHT + 5 * DAY) == {
        k: sum(d[k] for d in days) for k in ("cold", "warm", "hot")}


def test_rows_in_use_stay_whatever_their_age(make_engine, clock, db_path):
    engine = make_engine(settings={"shop_name": "Kite Shop", "retention_carts_days": 30,
                                   "retention_reports_days": 30, "retention_offers_days": 30,
                                   "retention_bodies_days": 1})
    add_cart(engine, "c1", email="ann@example.com")
    add_cart(engine, "c2", email="uns@example.com")
    run_at(engine, clock, T0 + 2 * HOUR)
    engine.track("unsubscribed", email="uns@example.com")
    clock.set(T0 + 2 * DAY)
    engine.prune()
    (m,) = engine.messages(cart_id="c1")
    assert m["status"] == "sent" and m["text"] is None and m["to"] == "ann@example.com"  # body gone
    # A year on (no worker ran meanwhile): the running journey keeps its cart and messages;
    # the unsubscribed contact stays, so the unsubscribe holds; the rest is gone.
    clock.set(T0 + 365 * DAY)
    engine.prune()
    assert engine.cart("c1")["journey"]["next_step"] == 2
    assert len(engine.messages(cart_id="c1")) == 1
    assert engine.cart("c2") is None and engine.messages(cart_id="c2") == []
    assert engine.export(email="uns@example.com")["contacts"][0]["unsubscribed"] == 1


def test_the_worker_prunes_in_bounded_batches(make_engine, clock, db_path):
    engine = make_engine(settings={"shop_name": "Kite Shop", "retention_events_days": 1,
                                   "retention_batch": 50})
    engine.track_many([{"type": "page_view", "visitor_id": f"v{i}", "page_type": "home"} for i in range(400)])
    engine.flush()
    clock.set(T0 + 2 * DAY)
    engine.run_due()
    assert _rows(db_path)["events"] == 350  # one batch per run
    engine.run_due()
    assert _rows(db_path)["events"] == 300  # behind: the next run prunes again at once
    engine.prune()
    assert _rows(db_path)["events"] == 0


@pytest.mark.sqlite_only("the SQLite file's size")
def test_sqlite_hands_freed_space_back_to_the_file_system(make_engine, clock, db_path):
    engine = make_engine(settings={"shop_name": "Kite Shop", "retention_events_days": 1})
    engine.track_many([{"type": "page_view", "visitor_id": f"visitor-{i:06d}", "page_type": "product",
                        "url": f"https://kite.example/p/{i}?" + "x" * 200} for i in range(5000)])
    engine.flush()
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full = os.path.getsize(db_path)
    clock.set(T0 + 2 * DAY)
    engine.prune()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert os.path.getsize(db_path) < full / 3, (full, os.path.getsize(db_path))
    assert con.execute("PRAGMA freelist_count").fetchone()[0] < 100
    con.close()


def test_windows_are_checked(make_engine):
    with pytest.raises(cr.ConfigError, match="retention.offers"):
        make_engine(settings={"retention_offers_days": 2})  # shorter than attribution (7 days)
    with pytest.raises(cr.ConfigError, match="retention.events"):
        make_engine(settings={"retention_events_days": 0.5})
    with pytest.raises(cr.ConfigError, match="retention_carts_days"):
        make_engine(settings={"retention_carts_days": "soon"})
    engine = make_engine(settings={"retention_events_days": 0})  # 0: for ever
    engine.close()
