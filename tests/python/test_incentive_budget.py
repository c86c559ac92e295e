"""One incentive budget (R4.4, S8) for everything that gives an incentive: popup coupons and
reminder-step coupons count against one hard cap over a rolling window, a contact's cooldown
starts with any incentive, valuable customers without a recent incentive are served from a
share reserved for them, and a step refused by the budget still sends its reminder, without
the coupon, recording why."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

import cartrecovery as cr
from conftest import DAY, HOUR, KITE, T0, add_cart, run_at, sent

MINUTE = timedelta(minutes=1)
POOLS = [{"name": "thanks", "kind": "generated", "percent": 10, "prefix": "TY", "valid_for": "7d"},
         {"name": "popup", "kind": "generated", "percent": 10, "prefix": "POP", "valid_for": "7d"}]


def _flow():
    return cr.Flow("rationed", abandon_after="1h", paths=[cr.Path("everyone", steps=[
        cr.Step(after="1h", channels=["email"], coupon="thanks")])])


def _engine(make_engine, incentive=None, popup=False):
    settings = {"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
                "coupon_pools": POOLS,
                "incentive": {"share": 0.2, "valuable_min_orders": 2, **(incentive or {})}}
    if popup:
        settings["exit_intent"] = {"pool": "popup", "coupon_min_stage": "cart"}
    return make_engine(flows=[_flow()], settings=settings)


def _abandon_all(engine, clock, shoppers):
    """shoppers: [(cart_id, orders_count)], one a minute; the clock moves minute by minute
    and runs what is due, so each step decides in the order it falls due."""
    end = len(shoppers) + 121
    for minute in range(end):
        clock.set(T0 + minute * MINUTE)
        if minute < len(shoppers):
            cart_id, orders = shoppers[minute]
            add_cart(engine, cart_id, email=f"{cart_id}@example.com", orders_count=orders)
        engine.run_due()


def _has_code(message):
    return re.search(r"Your code: TY[A-Z0-9]{12}\b", message["text"]) is not None


def test_step_coupons_are_capped_and_refused_steps_still_send_with_the_reason(make_engine, clock):
    engine = _engine(make_engine)
    _abandon_all(engine, clock, [(f"c{i:02d}", 0) for i in range(20)])
    messages = sent(engine)
    assert len(messages) == 20  # every reminder goes
    with_code = [m for m in messages if _has_code(m)]
    assert 1 <= len(with_code) <= 4  # at most 20 % of 20 abandoners
    for m in messages:
        if _has_code(m):
            assert m["reason"] is None
        else:
            assert m["reason"].startswith("incentive_refused:"), m["reason"]
    reasons = {m["reason"] for m in messages if not _has_code(m)}
    assert "incentive_refused:budget_exhausted" in reasons  # the warm-up: 1 in 5 not reached


def test_the_cap_holds_at_every_point_of_a_long_run(make_engine, clock):
    engine = _engine(make_engine, {"valuable_min_orders": 0})
    _abandon_all(engine, clock, [(f"c{i:03d}", 0) for i in range(60)])
    messages = sorted(sent(engine), key=lambda m: m["sent_at"])
    given = 0
    for n, m in enumerate(messages, start=1):
        given += _has_code(m)
        assert given * 5 <= n, f"{given} incentives among the first {n} abandoners"
    assert given >= 6  # the budget is used, not only respected


def test_a_popup_coupon_starts_the_cooldown_for_a_reminder_coupon(make_engine, clock):
    engine = _engine(make_engine, {"share": 1.0}, popup=True)
    add_cart(engine, "c1", visitor_id="v1")
    popup = engine.exit_intent(visitor_id="v1", cart_id="c1")
    assert popup["show"] and popup["coupon"]["code"].startswith("POP")
    run_at(engine, clock, T0 + 2 * HOUR)
    (m,) = sent(engine)
    assert not _has_code(m) and m["reason"] == "incentive_refused:recent_incentive"


def test_a_reminder_coupon_starts_the_cooldown_for_a_popup(make_engine, clock):
    engine = _engine(make_engine, {"share": 1.0}, popup=True)
    add_cart(engine, "c1", visitor_id="v1")
    run_at(engine, clock, T0 + 2 * HOUR)
    (m,) = sent(engine)
    assert _has_code(m)
    add_cart(engine, "c2", visitor_id="v1")  # back a day later, new cart
    clock.advance(DAY)
    popup = engine.exit_intent(visitor_id="v1", cart_id="c2")
    assert not popup["show"] and popup["reason"] == "recent_incentive"


def test_a_reminder_nobody_receives_spends_no_code_and_no_budget(make_engine, clock, tmp_path):
    # No e-mail consent: the reminder is suppressed, so no code leaves the imported pool and
    # no incentive is counted (S8 counts incentives sent): the shopper's cooldown has not
    # begun when they come back with consent.
    flow = cr.Flow("csv-coupon", abandon_after="1h", paths=[cr.Path("everyone", steps=[
        cr.Step(after="1h", channels=["email"], coupon="csv")])])
    engine = make_engine(flows=[flow], settings={
        "shop_name": "Kite Shop", "coupon_pools": [*POOLS, {"name": "csv", "kind": "imported", "percent": 10}],
        "incentive": {"share": 1.0}, "exit_intent": {"pool": "popup", "coupon_min_stage": "cart"}})
    csv = tmp_path / "codes.csv"
    csv.write_text("code\nKITE-1\nKITE-2\n")
    engine.import_coupons("csv", csv)
    add_cart(engine, "c1", visitor_id="v1", consent={"email": False})
    run_at(engine, clock, T0 + 2 * HOUR)
    (m,) = engine.messages(cart_id="c1")
    assert (m["status"], m["reason"]) == ("suppressed", "no_consent")
    assert engine.free_coupons("csv") == 2
    assert engine.export(email="ann@example.com")["popup_decisions"] == []
    add_cart(engine, "c2", visitor_id="v1", consent={"email": True})
    popup = engine.exit_intent(visitor_id="v1", cart_id="c2")
    assert popup["show"] and popup["coupon"]["code"].startswith("POP"), popup


def test_a_valuable_lifetime_value_is_in_the_shops_currency(make_engine, clock):
    # A yen shop: 50,000 JPY is 50000 minor units (no decimals), as the contact's
    # lifetime value is counted; read with two decimals it would be a hundred times more.
    engine = make_engine(flows=[_flow()], settings={
        "shop_name": "Kite Shop", "currency": "JPY", "coupon_pools": POOLS,
        "incentive": {"share": 1.0, "valuable_min_orders": 0, "valuable_min_lifetime_value": "50000"}})
    yen = [{"sku": "KITE-1", "name": "Kite", "price": "30000", "quantity": 1}]
    add_cart(engine, "rich", items=yen, email="rich@example.com", currency="JPY", lifetime_value="60000")
    add_cart(engine, "new", items=yen, email="new@example.com", currency="JPY", lifetime_value="40000")
    run_at(engine, clock, T0 + 2 * HOUR)
    rules = {c: engine.export(email=f"{c}@example.com")["popup_decisions"][0]["incentive_rule"]
             for c in ("rich", "new")}
    assert rules["rich"] == "priority_customer"
    assert not rules["new"].startswith("priority_"), rules  # not valuable: no priority rule


def test_popups_and_reminders_share_one_cap(make_engine, clock):
    # share 0.5 and every shopper valuable (no draw): the cap alone decides. Four popups
    # give 2 codes (the 2nd and 4th abandoner: 1 <= 0.5 * 2, 2 <= 0.5 * 4); the reminders
    # of the same four carts then find the budget used up.
    engine = _engine(make_engine, {"share": 0.5, "cooldown": "0m", "valuable_min_orders": 1},
                     popup=True)
    shown = []
    for i in range(4):
        add_cart(engine, f"c{i}", visitor_id=f"v{i}", email=f"c{i}@example.com", orders_count=1)
        shown.append(engine.exit_intent(visitor_id=f"v{i}", cart_id=f"c{i}")["show"])
    assert shown == [False, True, False, True]
    run_at(engine, clock, T0 + 2 * HOUR)
    messages = sent(engine)
    assert len(messages) == 4 and not any(_has_code(m) for m in messages)
    assert {m["reason"] for m in messages} == {"incentive_refused:priority_budget_exhausted"}


def test_valuable_customers_are_served_first_from_their_reserved_share(make_engine, clock):
    # 200 abandoners, 10 of them valuable (2+ orders) and spread through the run after the
    # warm-up. Ordinary abandoners alone would fill the 20 % cap; the reserve keeps room.
    shoppers = [(f"c{i:03d}", 3 if i % 20 == 10 else 0) for i in range(200)]
    engine = _engine(make_engine)
    _abandon_all(engine, clock, shoppers)
    by_cart = {m["cart_id"]: m for m in sent(engine)}
    assert len(by_cart) == 200
    valuable = [c for c, orders in shoppers if orders]
    ordinary = [c for c, orders in shoppers if not orders]
    assert all(_has_code(by_cart[c]) for c in valuable), [by_cart[c]["reason"] for c in valuable]
    given = sum(_has_code(m) for m in by_cart.values())
    assert given <= 40
    assert sum(_has_code(by_cart[c]) for c in ordinary) >= 15  # ordinary ones still get theirs
    refused = {by_cart[c]["reason"] for c in ordinary if not _has_code(by_cart[c])}
    assert "incentive_refused:reserved_for_valuable" in refused


def test_without_a_budget_reminder_coupons_are_not_rationed(make_engine, clock):
    # R4.4's 20 % is the playbook's example: a shop that names no budget and runs no coupon
    # popup gets the coupons its flow asks for (R4.1).
    engine = make_engine(flows=[_flow()], settings={"coupon_pools": POOLS})
    _abandon_all(engine, clock, [(f"c{i}", 0) for i in range(3)])
    assert all(_has_code(m) for m in sent(engine))


def _codes_among_twenty(engine, clock):
    _abandon_all(engine, clock, [(f"c{i:02d}", 0) for i in range(20)])
    messages = sent(engine)
    assert len(messages) == 20
    return sum(_has_code(m) for m in messages)


@pytest.mark.parametrize("settings", [
    {"incentive": True},  # R4.4 with its defaults: 20 % over 30 days
    {"exit_intent": {"pool": "popup"}},  # a coupon popup's budget (default 20 %) is the one
], ids=["incentive-true", "popup-budget"])
def test_a_default_budget_rations_reminder_coupons_too(make_engine, clock, settings):
    engine = make_engine(flows=[_flow()], settings={"coupon_pools": POOLS, **settings})
    assert 1 <= _codes_among_twenty(engine, clock) <= 4


def test_incentive_false_opts_out_of_the_budget_for_popups_and_reminders(make_engine, clock):
    engine = make_engine(flows=[_flow()], settings={
        "coupon_pools": POOLS, "incentive": False,
        "exit_intent": {"pool": "popup", "coupon_min_stage": "cart"}})
    assert _codes_among_twenty(engine, clock) == 20
    assert all(m["reason"] is None for m in sent(engine))
    for i in range(10):  # the same shoppers back: no cooldown, no cap
        add_cart(engine, f"d{i}", visitor_id=f"w{i}", email=f"c{i:02d}@example.com")
        popup = engine.exit_intent(visitor_id=f"w{i}", cart_id=f"d{i}")
        assert popup["show"] and popup["coupon"]["code"].startswith("POP"), popup


def test_one_budget_given_twice_is_a_config_error(make_engine):
    with pytest.raises(cr.ConfigError) as e:
        make_engine(settings={"coupon_pools": POOLS, "incentive": {"share": 0.2},
                              "exit_intent": {"pool": "popup", "incentive": {"share": 0.3}}})
    assert e.value.field == "incentive"


@pytest.mark.parametrize("incentive,field", [
    ({"share": 1.5}, "incentive.share"), ("yes", "settings.incentive"), (0.2, "settings.incentive")])
def test_a_bad_budget_names_its_field(make_engine, incentive, field):
    with pytest.raises(cr.ConfigError) as e:
        make_engine(settings={"incentive": incentive})
    assert e.value.field == field




@pytest.mark.parametrize("first", ["popup", "reminder"])
def test_a_cart_decided_by_a_popup_and_by_its_reminder_is_one_abandoner(make_engine, clock, first):
    # 100 valuable abandoners (no draw: the cap alone decides), cap 20 %, no cooldown. For
    # the first 99 carts one path decides first (every 5th gets a code: 19),
    # then the other path decides again for the same 99 carts: they are the same 99
    # abandoners, not one more, so a 20th incentive would break the cap. The 100th
    # abandoner then gets the 20th, and its second decision nothing.
    engine = _engine(make_engine, {"cooldown": "0m"}, popup=True)
    carts = [f"c{i:03d}" for i in range(100)]
    popups = {}  # cart -> the popup's answer

    def abandon(cart_ids):
        for cart_id in cart_ids:
            add_cart(engine, cart_id, visitor_id=f"v-{cart_id}", email=f"{cart_id}@example.com",
                     orders_count=2)
            clock.advance(MINUTE)

    def popup(cart_ids):
        for c in cart_ids:
            popups[c] = engine.exit_intent(visitor_id=f"v-{c}", cart_id=c)
        return [popups[c]["show"] for c in cart_ids]

    def reminders(cart_ids):
        clock.advance(3 * HOUR)
        engine.run_due()
        by_cart = {m["cart_id"]: m for m in sent(engine)}
        return [_has_code(by_cart[c]) for c in cart_ids]

    abandon(carts[:99])
    given = popup(carts[:99]) if first == "popup" else reminders(carts[:99])
    assert sum(given) == 19  # 1 in 5
    if first == "reminder":
        abandon(carts[:99])  # back on the site, the same carts, and about to leave again
    again = reminders(carts[:99]) if first == "popup" else popup(carts[:99])
    assert again == [False] * 99  # 19 incentives for 99 abandoners: all the cap allows
    refusals = ({m["reason"] for m in sent(engine)} if first == "popup" else
                {"incentive_refused:" + popups[c]["reason"] for c in carts[:99]})
    assert refusals == {"incentive_refused:priority_budget_exhausted"}

    abandon(carts[99:])
    assert popup(carts[99:]) == [True]  # 20 of 100
    assert reminders(carts[99:]) == [False]  # the same abandoner again
    total = (sum(p["show"] for p in popups.values())
             + sum(_has_code(m) for m in sent(engine)))
    assert total == 20


def test_decisions_must_outlive_the_budget_window_and_cooldown(make_engine):
    # Pruned sooner, the cap would forget what it gave and a shopper could get a second
    # incentive inside the cooldown.
    with pytest.raises(cr.ConfigError) as e:
        make_engine(settings={"coupon_pools": POOLS, "incentive": {"cooldown": "45d"},
                              "retention_offers_days": 40})
    assert e.value.field == "retention.offers" and "45 days" in str(e.value)
    make_engine(settings={"coupon_pools": POOLS, "incentive": {"cooldown": "45d"},
                          "retention_offers_days": 45})
    make_engine(settings={"coupon_pools": POOLS, "incentive": False, "retention_offers_days": 7})
