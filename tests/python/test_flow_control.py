"""Staff pause a flow and resume it (the operator's switch): nothing of a paused flow is
sent, its due reminders wait with the reason, and resuming sends them at once, re-checked."""
import pytest

import cartrecovery as cr
from conftest import DAY, HOUR, T0, add_cart, run_at


def sent(engine, cart_id):
    return [m["step"] for m in engine.messages(cart_id=cart_id) if m["status"] == "sent"]


def test_a_paused_flow_sends_nothing_until_it_is_resumed(make_engine, clock):
    engine = make_engine()
    add_cart(engine, "c1", email="ann@example.com")
    add_cart(engine, "c2", email="bob@example.com")
    engine.pause_flow("cart-recovery", reason="new templates coming")
    [flow] = engine.flows()
    assert flow["status"] == "paused"
    assert flow["paused_by_staff"]["reason"] == "new templates coming"
    assert flow["paused_by_staff"]["at"] == T0
    run_at(engine, clock, T0 + HOUR)
    run_at(engine, clock, T0 + 5 * HOUR)
    assert sent(engine, "c1") == [] and sent(engine, "c2") == []
    [m] = engine.messages(cart_id="c1")
    assert (m["status"], m["reason"]) == ("paused", "flow_paused")
    assert engine.flows()[0]["paused"] == [{"reason": "flow_paused", "messages": 2}]
    # Bob bought meanwhile: resuming must not remind him (checked again at send time).
    engine.track("order_placed", order_id="o2", cart_id="c2", value="59.97", currency="EUR")
    engine.pause_flow("cart-recovery", reason="second click")  # keeps the first pause
    assert engine.flows()[0]["paused_by_staff"]["reason"] == "new templates coming"
    engine.resume_flow("cart-recovery")
    assert engine.flows()[0]["status"] == "running"
    assert engine.run_due() == 1  # Ann's reminder is due at once, not an hour later
    assert sent(engine, "c1") == [1] and sent(engine, "c2") == []
    engine.resume_flow("cart-recovery")  # resuming a running flow does nothing
    assert engine.run_due() == 0 and engine.flows()[0]["status"] == "running"


def test_the_pause_is_kept_in_the_store(make_engine, clock):
    first = make_engine()
    first.pause_flow("cart-recovery")
    first.close()
    second = make_engine()  # another process, or after a restart
    assert second.flows()[0]["status"] == "paused"
    add_cart(second, "c1")
    run_at(second, clock, T0 + 2 * HOUR)
    assert sent(second, "c1") == []


def test_unknown_flows_are_named(engine):
    for call in (engine.pause_flow, engine.resume_flow):
        with pytest.raises(cr.ValidationError) as e:
            call("no-such-flow")
        assert e.value.field == "flow" and "no-such-flow" in str(e.value)


def test_importing_coupons_does_not_resume_a_staff_pause(make_engine, clock, tmp_path):
    flow = cr.Flow("coupons", paths=[cr.Path("all", steps=[cr.Step(after="1h", coupon="P")])])
    engine = make_engine(flows=[flow], settings={
        "shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
        "coupon_pools": [{"name": "P", "kind": "imported", "percent": 10}]})
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    assert engine.flows()[0]["paused"][0]["reason"] == "coupon_pool_empty:P"
    engine.pause_flow("coupons")
    csv = tmp_path / "codes.csv"
    csv.write_text("code\nSPRING1\n")
    engine.import_coupons("P", str(csv))
    run_at(engine, clock, T0 + HOUR + DAY)
    assert sent(engine, "c1") == []
    engine.resume_flow("coupons")
    engine.run_due()
    assert sent(engine, "c1") == [1]
    assert "SPRING1" in engine.messages(cart_id="c1")[0]["text"]


def test_the_team_hears_once_per_dry_spell_when_a_pool_pauses_a_flow(make_engine, clock, tmp_path):
    team, hook = [], []
    flow = cr.Flow("coupons", paths=[cr.Path("all", steps=[cr.Step(after="1h", coupon="P")])])
    engine = make_engine(flows=[flow], channels={
        "email": cr.OutboxChannel(), "team": cr.CallbackChannel(team.append),
        "hook": cr.CallbackChannel(hook.append)}, settings={
        "shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
        "coupon_pools": [{"name": "P", "kind": "imported", "percent": 10}],
        "sales_alert": {"min_value": "100000", "channels": ["team", "hook"]}})
    for i in range(3):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)
    run_at(engine, clock, T0 + 3 * HOUR)  # the steps come back hourly: still one alert
    assert len(team) == 1 and len(hook) == 1
    assert "P" in team[0]["subject"] and "3 reminder(s) waiting" in team[0]["text"]
    assert hook[0]["data"]["event"] == "coupon_pool_empty"
    assert hook[0]["data"]["paused"] == [{"flow": "coupons", "messages": 3}]
    csv = tmp_path / "codes.csv"
    csv.write_text("code\nA1AAAA\nB2BBBB\nC3CCCC\n")
    engine.import_coupons("P", str(csv))
    engine.run_due()
    assert sorted(m["status"] for i in range(3) for m in engine.messages(cart_id=f"c{i}")) == ["sent"] * 3
    add_cart(engine, "c9", email="late@example.com")  # the pool is dry again: a new alert
    run_at(engine, clock, clock.now() + HOUR)
    assert len(team) == 2 and "1 reminder(s) waiting" in team[1]["text"]


def test_a_pause_of_a_flow_this_engine_does_not_run_shows_and_can_be_lifted(make_engine):
    shop = make_engine(flows=[cr.default_flow(), cr.Flow("winback", paths=[cr.Path("all", steps=[cr.Step(after="1d")])])])
    shop.pause_flow("winback", reason="rewriting it")
    shop.close()
    operator = make_engine()  # only the default flow
    [winback] = [f for f in operator.flows() if f["name"] == "winback"]
    assert winback["status"] == "paused" and not winback["configured"]
    operator.resume_flow("winback")
    assert [f["name"] for f in operator.flows()] == ["cart-recovery"]
    with pytest.raises(cr.ValidationError):
        operator.pause_flow("winback")  # pausing needs the flow
