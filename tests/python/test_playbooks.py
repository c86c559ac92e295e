"""Replays of the playbook rules (PLAYBOOKS.md sections 2, 3.1, 3.4 and 7) through the
Python API, with the default flow and a ManualClock. Every expected time is exact."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

import cartrecovery as cr
from conftest import BOARD, DAY, HOUR, KITE, SETTINGS, T0, add_cart, run_at, sent


@pytest.fixture
def engine(make_engine):
    # These replays run past 30 days after the first reminder and then read what each one
    # said: keep rendered bodies longer than the default 30-day window (test_retention.py is
    # where that window is tested).
    return make_engine(settings={**SETTINGS, "retention_bodies_days": 365})


S = T0 + HOUR  # the cart is left at T0; abandon_after 1h, step 1 after 1h: reminder 1 at S


def journey(engine, cart_id="c1"):
    return engine.cart(cart_id)["journey"]


def assert_quiet_until(engine, clock, when, count, cart_id=None, email=None):
    """Runs just before `when` and checks that nothing new went out."""
    run_at(engine, clock, when - timedelta(minutes=1))
    assert len(sent(engine, cart_id, email)) == count


# ---- R2.2 customers ------------------------------------------------------------------------

def test_customer_path_sends_three_reminders_at_1h_24h_48h(engine, clock):
    add_cart(engine, orders_count=2)
    assert engine.cart("c1")["state"] == "active"
    assert_quiet_until(engine, clock, S, 0)

    run_at(engine, clock, S)
    j = journey(engine)
    assert j["path"] == "customer" and j["flow"] == "cart-recovery"
    assert j["next_step"] == 2 and j["next_due"] == S + 24 * HOUR and j["branch"] is None

    assert_quiet_until(engine, clock, S + 24 * HOUR, 1)
    run_at(engine, clock, S + 24 * HOUR)
    assert journey(engine)["next_due"] == S + 72 * HOUR
    assert_quiet_until(engine, clock, S + 72 * HOUR, 2)
    run_at(engine, clock, S + 72 * HOUR)

    run_at(engine, clock, S + 30 * DAY)  # nothing more, ever
    msgs = engine.messages("c1")
    assert [m["status"] for m in msgs] == ["sent"] * 3
    assert [m["step"] for m in msgs] == [1, 2, 3]
    assert [m["sent_at"] for m in msgs] == [S, S + 24 * HOUR, S + 72 * HOUR]
    assert {m["path"] for m in msgs} == {"customer"}
    assert {m["branch"] for m in msgs} == {None}
    assert len({m["subject"] for m in msgs}) == 3
    assert all(m["to"] == "ann@example.com" for m in msgs)
    assert journey(engine)["next_step"] is None
    assert engine.cart("c1")["state"] == "expired"


def test_visitor_reminder_1_at_one_hour(engine, clock):
    add_cart(engine)
    assert_quiet_until(engine, clock, S, 0)
    run_at(engine, clock, S)
    (m,) = engine.messages("c1")
    assert (m["status"], m["step"], m["path"], m["branch"]) == ("sent", 1, "visitor", None)
    assert m["due_at"] == S and m["sent_at"] == S
    assert m["message_id"].startswith("m_") and m["text"]
    j = journey(engine)
    assert (j["next_step"], j["branch"], j["next_due"]) == (2, "unopened", S + 10 * HOUR)


# ---- R2.3 / S2 engagement branches -----------------------------------------------------------

def _visitor_sequence(engine, clock, engage=None):
    """Reminder 1 at S; `engage` = (event type, delay after reminder 1) or None."""
    add_cart(engine)
    run_at(engine, clock, S)
    (m1,) = engine.messages("c1")
    if engage:
        kind, delay = engage
        clock.set(S + delay)
        engine.track(kind, message_id=m1["message_id"])
    return m1


@pytest.mark.parametrize("engage, branch, r2_after, r3_after", [
    (None, "unopened", 10 * HOUR, 2 * DAY),
    (("message_opened", 2 * HOUR), "opened", 6 * HOUR, DAY),
    (("link_clicked", HOUR), "clicked", 8 * HOUR, DAY),
    # S2, late open: the "opened" delay (6h) has passed by then, so reminder 2 goes at once.
    (("message_opened", 9 * HOUR), "opened", 9 * HOUR, DAY),
], ids=["never-opened", "opened-at-2h", "clicked-at-1h", "opened-late-at-9h"])
def test_visitor_branches_on_engagement_with_reminder_1(engine, clock, engage, branch, r2_after, r3_after):
    _visitor_sequence(engine, clock, engage)
    r2 = S + r2_after
    j = journey(engine)
    assert (j["next_step"], j["branch"], j["next_due"]) == (2, branch, r2)
    if r2 > clock.now():
        assert_quiet_until(engine, clock, r2, 1)
    run_at(engine, clock, r2)
    r3 = r2 + r3_after
    j = journey(engine)
    assert (j["next_step"], j["branch"], j["next_due"]) == (3, branch, r3)
    assert_quiet_until(engine, clock, r3, 2)
    run_at(engine, clock, r3)
    run_at(engine, clock, r3 + 30 * DAY)

    msgs = engine.messages("c1")
    assert [(m["step"], m["branch"], m["status"]) for m in msgs] == [
        (1, None, "sent"), (2, branch, "sent"), (3, branch, "sent")]
    assert [m["sent_at"] for m in msgs] == [S, r2, r3]
    assert len({m["subject"] for m in msgs}) == 3
    assert journey(engine)["next_step"] is None


def test_branch_subjects_differ_between_branches(make_engine, clock, tmp_path):
    subjects = {}
    for i, engage in enumerate([None, ("message_opened", 2 * HOUR), ("link_clicked", HOUR)]):
        clock.set(T0 + i * 60 * DAY)  # far apart: caps and windows do not interfere
        base = clock.now()
        e = make_engine(store=f"sqlite:///{tmp_path / f'b{i}.db'}")
        add_cart(e, email=f"b{i}@example.com")
        run_at(e, clock, base + HOUR)
        (m1,) = e.messages("c1")
        if engage:
            clock.set(base + HOUR + engage[1])
            e.track(engage[0], message_id=m1["message_id"])
        due = journey(e)["next_due"]
        run_at(e, clock, due)
        m2 = e.messages("c1")[1]
        subjects[m2["branch"]] = m2["subject"]
    assert set(subjects) == {"unopened", "opened", "clicked"}
    assert len(set(subjects.values())) == 3


def test_open_of_reminder_2_does_not_change_reminder_3_branch(engine, clock):
    _visitor_sequence(engine, clock)
    r2 = S + 10 * HOUR
    run_at(engine, clock, r2)
    m2 = engine.messages("c1")[1]
    assert m2["branch"] == "unopened"
    clock.set(r2 + HOUR)
    engine.track("message_opened", message_id=m2["message_id"])
    engine.track("link_clicked", message_id=m2["message_id"], url="https://kite.example/cart/c1")
    j = journey(engine)
    assert (j["next_step"], j["branch"], j["next_due"]) == (3, "unopened", r2 + 2 * DAY)
    run_at(engine, clock, r2 + 2 * DAY)
    m3 = engine.messages("c1")[2]
    assert (m3["step"], m3["branch"], m3["sent_at"]) == (3, "unopened", r2 + 2 * DAY)
    assert engine.messages("c1")[1]["opened_at"] == r2 + HOUR


def test_open_after_click_keeps_the_clicked_branch(engine, clock):
    m1 = _visitor_sequence(engine, clock, ("link_clicked", HOUR))
    clock.set(S + 3 * HOUR)
    engine.track("message_opened", message_id=m1["message_id"])
    j = journey(engine)
    assert (j["branch"], j["next_due"]) == ("clicked", S + 8 * HOUR)


# ---- S3 shopping again ----------------------------------------------------------------------

def test_activity_pushes_the_next_step_and_the_message_shows_the_cart_now(engine, clock):
    add_cart(engine)
    run_at(engine, clock, S)
    r2 = S + 10 * HOUR
    # The shopper comes back 30 minutes before reminder 2 and adds a board.
    back = r2 - timedelta(minutes=30)
    clock.set(back)
    engine.track("cart_updated", cart_id="c1", items=[KITE, BOARD], currency="EUR")
    j = journey(engine)
    assert j["next_due"] == back + HOUR and j["next_step"] == 2
    run_at(engine, clock, r2)
    assert len(sent(engine, "c1")) == 1  # still shopping: nothing at the planned time
    # More activity keeps pushing it.
    again = back + timedelta(minutes=45)
    clock.set(again)
    engine.track("checkout_stage", cart_id="c1", stage="shipping_address")
    assert journey(engine)["next_due"] == again + HOUR
    assert_quiet_until(engine, clock, again + HOUR, 1, "c1")
    run_at(engine, clock, again + HOUR)

    msgs = sent(engine, "c1")
    assert len(msgs) == 2
    m2 = msgs[1]
    assert (m2["step"], m2["sent_at"]) == (2, again + HOUR)
    assert "Twin-Tip Board" in m2["text"] and "Kite Pro 9m" in m2["text"]
    assert "Twin-Tip Board" not in msgs[0]["text"]
    assert "308.97" in m2["text"]  # 3 x 19.99 + 249.00
    # The journey was not restarted: reminder 3 follows reminder 2.
    j = journey(engine)
    assert j["next_step"] == 3 and j["next_due"] == again + HOUR + 2 * DAY
    assert len(engine.messages(email="ann@example.com")) == 2


def test_activity_before_the_first_reminder_delays_it(engine, clock):
    add_cart(engine)
    clock.set(T0 + 50 * timedelta(minutes=1))
    engine.track("cart_updated", cart_id="c1", items=[KITE, BOARD], currency="EUR")
    run_at(engine, clock, S)
    assert engine.messages("c1") == []
    run_at(engine, clock, T0 + timedelta(minutes=110))
    (m1,) = engine.messages("c1")
    assert m1["sent_at"] == T0 + timedelta(minutes=110) and "Twin-Tip Board" in m1["text"]


# ---- S4 orders ----------------------------------------------------------------------------

@pytest.mark.parametrize("match", [
    {"cart_id": "c1"},
    {"email": "ann@example.com"},
    {"email": "ANN@example.com", "status": "pending"},
    {"cart_id": "c1", "status": "pending"},
], ids=["by-cart", "by-email", "by-email-pending", "by-cart-pending"])
def test_order_ends_the_journey(engine, clock, match):
    add_cart(engine)
    run_at(engine, clock, S)
    clock.set(S + 3 * HOUR)
    engine.track("order_placed", order_id="o-1", value="59.97", currency="EUR", **match)
    j = journey(engine)
    assert j["state"] == "ended" and j["end_reason"] == "ordered" and j["next_step"] is None
    if "cart_id" in match:
        assert engine.cart("c1")["state"] == "recovered"
    run_at(engine, clock, S + 30 * DAY)
    msgs = engine.messages("c1")
    assert [(m["step"], m["status"]) for m in msgs] == [(1, "sent")]


def test_order_by_email_marks_the_journeys_cart_recovered(engine, clock):
    add_cart(engine)
    run_at(engine, clock, S)
    clock.set(S + 3 * HOUR)
    engine.track("order_placed", order_id="o-1", email="ann@example.com")
    assert engine.cart("c1")["state"] == "recovered"


def test_order_stops_a_message_that_is_due_but_not_yet_run(engine, clock):
    add_cart(engine)
    run_at(engine, clock, S)
    # Reminder 2 was due at S+10h; no worker ran since. The order comes at S+11h.
    clock.set(S + 11 * HOUR)
    engine.track("order_placed", order_id="o-1", cart_id="c1")
    assert engine.run_due() >= 0
    run_at(engine, clock, S + 30 * DAY)
    assert [m["status"] for m in engine.messages("c1")] == ["sent"]
    assert engine.cart("c1")["state"] == "recovered"


def test_order_during_a_send_stops_the_rest_of_that_step(make_engine, clock):
    """An order committed while step 1 is being handed to the channels stops what was
    prepared and not yet sent (S4: 'messages already due but not yet handed to a channel')."""
    seen = []
    holder = {}

    def on_email(msg):
        seen.append(msg["channel"])
        holder["engine"].track("order_placed", order_id="o-1", email="ann@example.com")

    flow = cr.Flow("both", paths=[cr.Path("everyone", steps=[
        cr.Step(after="1h", channels=["email", "sms"]), cr.Step(after="1d", channels=["email"])])])
    e = make_engine(flows=[flow], channels={"email": cr.CallbackChannel(on_email),
                                            "sms": cr.OutboxChannel()})
    holder["engine"] = e
    add_cart(e, phone="+48601234567", consent={"sms": True})
    run_at(e, clock, S)
    run_at(e, clock, S + 30 * DAY)
    msgs = {m["channel"]: m for m in e.messages("c1")}
    assert seen == ["email"]
    assert msgs["email"]["status"] == "sent"
    assert msgs["sms"]["status"] == "suppressed" and msgs["sms"]["reason"] == "ordered"
    assert len(e.messages("c1")) == 2


def test_order_before_abandonment_means_no_journey(engine, clock):
    add_cart(engine)
    clock.set(T0 + 30 * timedelta(minutes=1))
    engine.track("order_placed", order_id="o-1", cart_id="c1")
    run_at(engine, clock, S + 30 * DAY)
    cart = engine.cart("c1")
    assert cart["state"] == "ordered" and cart["journey"] is None
    assert engine.messages("c1") == []


def test_order_matched_by_phone_ends_the_journey(engine, clock):
    add_cart(engine, phone="+48601234567", consent={"sms": True})
    run_at(engine, clock, S)
    clock.set(S + HOUR)
    engine.track("order_placed", order_id="o-1", phone="+48601234567")
    assert engine.cart("c1")["state"] == "recovered"
    run_at(engine, clock, S + 30 * DAY)
    assert [m["status"] for m in engine.messages("c1")] == ["sent"]
    assert journey(engine)["end_reason"] == "ordered"


def test_the_same_order_reported_twice_counts_once(engine, clock):
    add_cart(engine)
    run_at(engine, clock, S)
    clock.set(S + HOUR)
    for _ in range(2):
        engine.track("order_placed", order_id="o-1", cart_id="c1", value="59.97")
    (row,) = engine.report()
    assert (row["sent"], row["orders"], str(row["revenue"])) == (1, 1, "59.97")


def test_emptied_cart_ends_the_journey(engine, clock):
    add_cart(engine)
    run_at(engine, clock, S)
    clock.set(S + HOUR)
    engine.track("cart_updated", cart_id="c1", items=[])
    cart = engine.cart("c1")
    assert cart["state"] == "emptied"
    assert (cart["journey"]["state"], cart["journey"]["end_reason"]) == ("ended", "emptied")
    run_at(engine, clock, S + 30 * DAY)
    assert len(engine.messages("c1")) == 1


def test_open_arriving_while_reminder_2_is_overdue_takes_the_opened_branch(engine, clock):
    m1 = _visitor_sequence(engine, clock)
    # Reminder 2 ("unopened") fell due at S+10h but no worker ran; the open comes at S+11h.
    clock.set(S + 11 * HOUR)
    engine.track("message_opened", message_id=m1["message_id"])
    j = journey(engine)
    assert (j["branch"], j["next_due"]) == ("opened", S + 11 * HOUR)
    run_at(engine, clock, S + 11 * HOUR)
    assert [(m["step"], m["branch"]) for m in sent(engine, "c1")] == [(1, None), (2, "opened")]


# ---- S5 / R2.7 re-abandonment ---------------------------------------------------------------

def test_reabandonment_inside_the_frequency_cap_starts_no_new_journey(engine, clock):
    add_cart(engine, orders_count=1)
    for due in (S, S + 24 * HOUR, S + 72 * HOUR):
        run_at(engine, clock, due)
    assert journey(engine)["state"] == "completed"
    last = S + 72 * HOUR
    # Back 2 hours after the last reminder, changes the cart, leaves again.
    clock.set(last + 2 * HOUR)
    engine.track("cart_updated", cart_id="c1", items=[KITE, BOARD], currency="EUR")
    run_at(engine, clock, last + 3 * HOUR)
    run_at(engine, clock, last + 20 * HOUR)
    msgs = engine.messages("c1")
    assert [m["status"] for m in msgs] == ["sent"] * 3 + ["suppressed"]
    assert msgs[-1]["reason"] == "frequency_cap"
    assert msgs[-1]["due_at"] == last + 3 * HOUR
    assert journey(engine)["state"] != "running"


def test_after_the_frequency_cap_a_new_journey_starts(engine, clock):
    add_cart(engine, orders_count=1)
    for due in (S, S + 24 * HOUR, S + 72 * HOUR):
        run_at(engine, clock, due)
    last = S + 72 * HOUR
    clock.set(last + 30 * HOUR)
    engine.track("cart_updated", cart_id="c1", items=[KITE, BOARD], currency="EUR")
    run_at(engine, clock, last + 31 * HOUR)
    j = journey(engine)
    assert j["state"] == "running" and j["path"] == "customer"
    msgs = engine.messages("c1")
    assert [m["status"] for m in msgs] == ["sent"] * 4
    assert msgs[-1]["step"] == 1 and msgs[-1]["sent_at"] == last + 31 * HOUR


def test_new_cart_within_7_days_of_an_order_is_quiet(engine, clock):
    add_cart(engine)
    run_at(engine, clock, S)
    ordered = S + 2 * HOUR
    clock.set(ordered)
    engine.track("order_placed", order_id="o-1", cart_id="c1", value="59.97")
    # Six days later a new cart, left again: no journey, reason recorded.
    clock.set(ordered + 6 * DAY)
    add_cart(engine, "c2")
    run_at(engine, clock, ordered + 6 * DAY + HOUR)
    (m,) = engine.messages("c2")
    assert (m["status"], m["reason"]) == ("suppressed", "quiet_after_order")
    assert journey(engine, "c2") is None or journey(engine, "c2")["state"] != "running"
    # After the window a new cart starts a journey again (a customer now).
    clock.set(ordered + 8 * DAY)
    add_cart(engine, "c3")
    run_at(engine, clock, ordered + 8 * DAY + HOUR)
    (m3,) = engine.messages("c3")
    assert m3["status"] == "sent" and m3["path"] == "customer"
    assert journey(engine, "c3")["state"] == "running"


def test_one_running_journey_per_contact_moves_to_the_newest_cart(engine, clock):
    add_cart(engine, "c1", visitor_id="phone")
    run_at(engine, clock, S)
    # The same shopper fills a cart on a laptop two hours later.
    clock.set(S + 2 * HOUR)
    add_cart(engine, "c2", visitor_id="laptop", items=[BOARD])
    run_at(engine, clock, S + 3 * HOUR)
    j2 = journey(engine, "c2")
    assert j2 is not None and j2["state"] == "running" and j2["next_step"] == 2
    assert j2["next_due"] == S + 10 * HOUR
    for t in (S + 10 * HOUR, S + 10 * HOUR + 2 * DAY, S + 40 * DAY):
        run_at(engine, clock, t)
    msgs = engine.messages(email="ann@example.com")
    assert [(m["step"], m["status"]) for m in msgs] == [(1, "sent"), (2, "sent"), (3, "sent")]
    assert [m["cart_id"] for m in msgs] == ["c1", "c2", "c2"]
    assert "Twin-Tip Board" in msgs[1]["text"]
    assert len({m["journey_id"] for m in msgs}) == 1


def test_two_carts_left_together_give_one_sequence(engine, clock):
    add_cart(engine, "c1", visitor_id="phone")
    clock.set(T0 + 10 * timedelta(minutes=1))
    add_cart(engine, "c2", visitor_id="laptop", items=[BOARD])
    for t in (S, S + 10 * HOUR, S + 3 * DAY, S + 40 * DAY):
        run_at(engine, clock, t)
    msgs = engine.messages(email="ann@example.com")
    assert [m["status"] for m in msgs if m["status"] == "sent"] == ["sent"] * 3
    assert len({m["journey_id"] for m in msgs if m["status"] == "sent"}) == 1


# ---- R3.1 channels --------------------------------------------------------------------------

def _both_flow():
    return cr.Flow("two-channels", paths=[cr.Path("everyone", steps=[
        cr.Step(after="1h", channels=["email", "sms"]),
        cr.Step(after="2h", channels=["sms"]),
    ])])


@pytest.fixture
def two_channel_engine(make_engine):
    return make_engine(flows=[_both_flow()],
                       channels={"email": cr.OutboxChannel(), "sms": cr.OutboxChannel()})


def test_email_and_sms_without_phone_sends_only_the_email(two_channel_engine, clock):
    e = two_channel_engine
    add_cart(e)
    run_at(e, clock, S)
    run_at(e, clock, S + 2 * HOUR)
    run_at(e, clock, S + 30 * DAY)
    msgs = e.messages("c1")
    got = [(m["step"], m["channel"], m["status"], m["reason"]) for m in msgs]
    assert got == [(1, "email", "sent", None), (1, "sms", "suppressed", "no_address"),
                   (2, "sms", "suppressed", "no_address")]
    assert not [m for m in msgs if m["channel"] == "sms" and m["status"] == "sent"]


def test_email_and_sms_with_a_phone_sends_both(two_channel_engine, clock):
    e = two_channel_engine
    add_cart(e, phone="+48601234567", consent={"sms": True})
    run_at(e, clock, S)
    run_at(e, clock, S + 2 * HOUR)
    msgs = e.messages("c1")
    assert [(m["step"], m["channel"], m["status"], m["to"]) for m in msgs] == [
        (1, "email", "sent", "ann@example.com"), (1, "sms", "sent", "+48601234567"),
        (2, "sms", "sent", "+48601234567")]


def test_sms_only_without_phone_sends_nothing(make_engine, clock):
    flow = cr.Flow("sms-only", paths=[cr.Path("everyone", steps=[cr.Step(after="1h", channels=["sms"])])])
    e = make_engine(flows=[flow], channels={"sms": cr.OutboxChannel()})
    add_cart(e)
    run_at(e, clock, S)
    run_at(e, clock, S + 30 * DAY)
    (m,) = e.messages("c1")
    assert (m["channel"], m["status"], m["reason"]) == ("sms", "suppressed", "no_address")


# ---- R3.4 unsubscribe -----------------------------------------------------------------------

@pytest.mark.parametrize("by", [{"email": "ann@example.com"}, {"phone": "+48601234567"}],
                         ids=["by-email", "by-phone"])
def test_unsubscribe_stops_email_and_sms(two_channel_engine, clock, by):
    e = two_channel_engine
    add_cart(e, phone="+48601234567", consent={"sms": True})
    run_at(e, clock, S)
    assert [m["status"] for m in e.messages("c1")] == ["sent", "sent"]
    clock.set(S + HOUR)
    e.track("unsubscribed", **by)
    run_at(e, clock, S + 2 * HOUR)
    run_at(e, clock, S + 30 * DAY)
    assert [m["status"] for m in e.messages("c1")] == ["sent", "sent"]
    j = journey(e)
    assert j["state"] == "ended" and j["end_reason"] == "unsubscribed"
    # Weeks later the same shopper leaves another cart: neither channel writes to them.
    clock.set(S + 31 * DAY)
    add_cart(e, "c2", phone="+48601234567", consent={"sms": True})
    run_at(e, clock, S + 31 * DAY + HOUR)
    run_at(e, clock, S + 31 * DAY + 3 * HOUR)
    later = e.messages("c2")
    assert later and all(m["status"] == "suppressed" for m in later)
    assert {m["reason"] for m in later} == {"unsubscribed"}
    assert "sms" in {m["channel"] for m in later}


def test_a_phone_number_moves_to_the_newest_contact(two_channel_engine, clock):
    e = two_channel_engine
    add_cart(e, "c1", email="ann@example.com", phone="+48601234567", consent={"sms": True})
    clock.set(T0 + 5 * timedelta(minutes=1))
    add_cart(e, "c2", email="bob@example.com", phone="+48601234567", consent={"sms": True})
    run_at(e, clock, S + 5 * timedelta(minutes=1))
    got = {(m["cart_id"], m["channel"]): (m["status"], m["to"], m["reason"]) for m in e.messages()}
    assert got[("c2", "sms")] == ("sent", "+48601234567", None)
    assert got[("c1", "sms")] == ("suppressed", None, "no_address")
    assert got[("c1", "email")][0] == "sent"


# ---- S7 no contact --------------------------------------------------------------------------

def test_cart_without_contact_gets_no_journey_and_a_recorded_reason(engine, clock):
    add_cart(engine, email=None)
    run_at(engine, clock, S)
    run_at(engine, clock, S + 30 * DAY)
    cart = engine.cart("c1")
    assert cart["state"] == "abandoned"
    assert cart["journey"] is None or cart["journey"]["state"] != "running"
    (m,) = engine.messages("c1")
    assert (m["status"], m["reason"], m["step"]) == ("suppressed", "no_contact", 1)
    assert m["to"] is None


def test_contact_captured_late_still_gets_the_reminder(engine, clock):
    """R1.5: an e-mail typed into checkout before the cart is abandoned counts."""
    add_cart(engine, email=None)
    clock.set(T0 + 20 * timedelta(minutes=1))
    engine.track("contact_captured", cart_id="c1", email="late@example.com")
    run_at(engine, clock, T0 + 80 * timedelta(minutes=1))
    (m,) = engine.messages("c1")
    assert (m["status"], m["to"]) == ("sent", "late@example.com")


# ---- flows: validation, builder, custom -----------------------------------------------------

def test_default_flow_matches_the_documented_json():
    doc = cr.default_flow().to_dict()
    assert doc["name"] == "cart-recovery" and doc["abandon_after"] == "1h"
    customer, visitor = doc["paths"]
    assert customer["when"] == {"orders_count_at_least": 1}
    assert [s["after"] for s in customer["steps"]] == ["1h", "1d", "2d"]
    assert visitor["steps"][1]["branches"]["unopened"]["after"] == "10h"
    assert visitor["steps"][2]["branches"]["unopened"]["after"] == "2d"
    assert doc["policies"] == {"frequency_cap": "1d", "quiet_after_order": "7d"}


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["paths"][1]["steps"][2]["branches"]["opened"].__setitem__("after", "soon"),
     "paths[1].steps[2].branches.opened.after"),
    (lambda d: d["paths"][1]["steps"][2]["branches"]["opened"].__setitem__("after", "-1h"),
     "paths[1].steps[2].branches.opened.after"),
    (lambda d: d["paths"][0]["steps"][1].__setitem__("colour", "red"),
     "paths[0].steps[1].colour"),
    (lambda d: d["paths"][0]["steps"][0].__setitem__("template", "no such/template"),
     "paths[0].steps[0].template"),
    (lambda d: d["paths"][1]["steps"][1]["branches"].__setitem__("bored", {"after": "1h"}),
     "paths[1].steps[1].branches.bored"),
    (lambda d: d["policies"].__setitem__("frequency_cap", "often"), "policies.frequency_cap"),
    (lambda d: d.__setitem__("paths", []), "paths"),
], ids=["bad-duration", "negative-duration", "unknown-key", "unknown-template", "unknown-branch",
        "bad-policy", "no-paths"])
def test_bad_flow_document_names_the_field(mutate, field):
    doc = cr.default_flow().to_dict()
    mutate(doc)
    with pytest.raises(cr.ConfigError) as info:
        cr.Flow.from_json(doc)
    assert info.value.field == field
    assert isinstance(info.value, ValueError) and isinstance(info.value, cr.Error)


def test_bad_flow_json_text_is_a_config_error():
    with pytest.raises(cr.ConfigError):
        cr.Flow.from_json('{"name": "x", "paths": [')


def test_engine_refuses_a_bad_flow_and_an_unbound_channel(make_engine):
    with pytest.raises(cr.ConfigError):
        make_engine(flows=[{"name": "x", "paths": [{"name": "p", "steps": [{"after": "1x"}]}]}])
    with pytest.raises(cr.ConfigError):
        make_engine(flows=[_both_flow()], channels={"email": cr.OutboxChannel()})


def test_builder_round_trips_through_json():
    flow = cr.Flow("winback", abandon_after="2h", enter_when={"min_value": "10", "has_contact": True},
                   paths=[
                       cr.Path("vip", when={"orders_count_at_least": 3}, steps=[
                           cr.Step(after="30m", channels=["email", "sms"], template="customer_1")]),
                       cr.Path("everyone", steps=[
                           cr.Step(after="1h"),
                           cr.Step(channels=["email"], branches={
                               "unopened": cr.Branch("10h"), "opened": cr.Branch("6h"),
                               "clicked": {"after": "8h"}}),
                           cr.Step(after="1d12h", channels=["sms"]),
                       ])],
                   policies={"frequency_cap": "24h", "quiet_after_order": "7d"})
    text = flow.to_json()
    again = cr.Flow.from_json(text)
    assert again == flow and again.to_json() == text
    assert cr.Flow.from_json(json.loads(text)) == flow
    d = again.to_dict()
    assert d["name"] == "winback" and d["abandon_after"] == "2h"
    assert d["paths"][1]["steps"][2]["after"] == "1d12h"
    assert d["paths"][1]["steps"][1]["branches"]["opened"]["after"] == "6h"
    assert d["policies"]["frequency_cap"] == "1d"
    assert cr.default_flow() == cr.Flow.from_json(cr.default_flow().to_json())


def test_flow_from_a_json_file(make_engine, tmp_path, clock):
    path = tmp_path / "flow.json"
    path.write_text(cr.default_flow().to_json(), encoding="utf-8")
    e = make_engine(flows=[str(path)])
    assert e.flow_names() == ["cart-recovery"]


def test_custom_four_step_flow(make_engine, clock):
    steps = [cr.Step(after=a) for a in ("30m", "12h", "1d", "2d")]
    flow = cr.Flow("edrone-like", abandon_after="30m", paths=[cr.Path("everyone", steps=steps)],
                   policies={"frequency_cap": "12h"})
    e = make_engine(flows=[flow])
    add_cart(e)
    first = T0 + timedelta(minutes=30)
    times = [first, first + 12 * HOUR, first + 36 * HOUR, first + 84 * HOUR]
    for t in times:
        assert_quiet_until(e, clock, t, times.index(t), "c1")
        run_at(e, clock, t)
    run_at(e, clock, first + 30 * DAY)
    msgs = e.messages("c1")
    assert [(m["flow"], m["path"], m["step"], m["sent_at"]) for m in msgs] == [
        ("edrone-like", "everyone", i + 1, t) for i, t in enumerate(times)]
    assert engine_cart_state(e) == "expired"


def engine_cart_state(e, cart_id="c1"):
    return e.cart(cart_id)["state"]


def test_two_flows_the_first_that_takes_the_cart_wins(make_engine, clock):
    big = cr.Flow("big-carts", enter_when={"min_value": "200"},
                  paths=[cr.Path("everyone", steps=[cr.Step(after="1h")])])
    e = make_engine(flows=[big, cr.default_flow()])
    add_cart(e, "small")
    add_cart(e, "large", items=[BOARD], email="bob@example.com")
    run_at(e, clock, S)
    assert e.messages("small")[0]["flow"] == "cart-recovery"
    assert e.messages("large")[0]["flow"] == "big-carts"
