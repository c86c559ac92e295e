"""The shop's hooks: an order check asked at send time, and bounces reported later."""
from datetime import timedelta

from conftest import DAY, HOUR, T0, add_cart, run_at, sent


def test_the_order_check_stops_a_reminder_the_engine_did_not_hear_about(make_engine, clock):
    engine = make_engine()
    paid_at_the_bank = set()
    asked = []

    def ordered(cart_id, email):
        asked.append((cart_id, email))
        return cart_id in paid_at_the_bank

    engine.set_order_check(ordered)
    add_cart(engine, "c1")
    add_cart(engine, "c2", email="bob@example.com")
    paid_at_the_bank.add("c2")
    run_at(engine, clock, T0 + HOUR)
    assert ("c1", "ann@example.com") in asked and ("c2", "bob@example.com") in asked
    assert len(sent(engine, "c1")) == 1
    assert sent(engine, "c2") == []
    cart = engine.cart("c2")
    assert cart["journey"]["state"] == "ended" and cart["journey"]["end_reason"] == "ordered"


def test_a_failing_order_check_holds_the_reminder_and_says_why(make_engine, clock):
    engine = make_engine()

    def broken(cart_id, email):
        raise RuntimeError("shop database is down")

    engine.set_order_check(broken)
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    assert sent(engine, "c1") == []  # never send when we cannot tell
    assert "shop database is down" in engine.status()["last_error"]
    engine.set_order_check(None)
    run_at(engine, clock, T0 + HOUR + timedelta(minutes=10))  # the claim's 5 min lease expired
    assert len(sent(engine, "c1")) == 1


def test_a_reported_hard_bounce_suppresses_the_address(make_engine, clock):
    engine = make_engine()
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    first = sent(engine, "c1")[0]
    engine.record_bounce(first["message_id"], permanent=True, reason="550 5.1.1 user unknown",
                         event_id="esp-evt-1")
    engine.record_bounce(first["message_id"], permanent=True, event_id="esp-evt-1")  # a retry
    m = engine.messages("c1")[0]
    assert m["status"] == "bounced" and "user unknown" in m["reason"]
    row = engine.report(by=())[0]
    assert row["sent"] == 1 and row["bounced"] == 1 and row["delivered"] == 0
    # The next journey for the same address does not try it again.
    engine.track("order_placed", order_id="o1", cart_id="c1", value="1", currency="EUR")
    run_at(engine, clock, T0 + 9 * DAY)
    add_cart(engine, "c2")
    run_at(engine, clock, T0 + 9 * DAY + HOUR)
    later = engine.messages("c2")
    assert [(x["status"], x["reason"]) for x in later] == [("suppressed", "bounced")]


def test_a_soft_bounce_does_not_suppress(make_engine, clock):
    engine = make_engine()
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    mid = sent(engine, "c1")[0]["message_id"]
    engine.record_bounce(mid, permanent=False, reason="mailbox full")
    run_at(engine, clock, T0 + 11 * HOUR)  # reminder 2 (unopened branch) still goes
    assert [m["step"] for m in sent(engine, "c1")] == [2]
