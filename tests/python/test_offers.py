"""Offers through the engine: exit-intent popups, coupon pools, checkout validation."""
import multiprocessing
from datetime import timedelta

import pytest

import cartrecovery as cr
from conftest import T0, add_cart


def _engine(make_engine, **exit_intent):
    policy = {"pool": "exit10", "incentive": {"share": 1.0}, **exit_intent}
    return make_engine(settings={
        "coupon_pools": [{"name": "exit10", "kind": "generated", "percent": 10, "prefix": "KITE",
                          "valid_for": "7d"},
                         {"name": "csv", "kind": "imported", "amount": "5", "currency": "EUR"},
                         {"name": "all", "kind": "static", "percent": 5, "code": "WELCOME5"}],
        "exit_intent": policy})


def _hot_lead(engine, cart_id="c1", email="ann@example.com", visitor="v1", stage="payment"):
    add_cart(engine, cart_id, email=email, visitor_id=visitor)
    engine.track("checkout_stage", cart_id=cart_id, stage=stage)


def test_a_hot_lead_gets_a_coupon_and_asking_again_never_draws_a_second(make_engine):
    engine = _engine(make_engine)
    _hot_lead(engine)
    first = engine.exit_intent(visitor_id="v1", cart_id="c1")
    assert first["show"] and first["kind"] == "coupon" and not first["repeated"]
    code = first["coupon"]["code"]
    assert code.startswith("KITE") and first["coupon"]["expires_at"] == T0 + timedelta(days=7)
    again = engine.exit_intent(visitor_id="v1", cart_id="c1")
    assert again["repeated"] and again["coupon"]["code"] == code
    check = engine.validate_coupon(code.lower(), "ann@example.com")  # shoppers type lower case
    assert check["valid"] and check["coupon"]["discount"]["percent"] == 10


def test_a_visitor_without_a_contact_is_asked_for_an_email_instead(make_engine):
    engine = _engine(make_engine)
    engine.track("page_view", visitor_id="v9", page_type="product")
    d = engine.exit_intent(visitor_id="v9")
    assert d["show"] and d["kind"] == "email_capture" and d["coupon"] is None


def test_below_the_cart_value_threshold_nothing_is_offered_and_the_reason_says_why(make_engine):
    engine = _engine(make_engine, min_cart_value="500", currency="EUR")
    _hot_lead(engine)  # 3 x 19.99
    d = engine.exit_intent(visitor_id="v1", cart_id="c1")
    assert not d["show"] and d["reason"] == "below_min_value" and d["coupon"] is None


def test_the_holdout_gets_nothing_and_is_recorded(make_engine):
    engine = _engine(make_engine, experiments={"coupon": {"variants": {"A": 0, "B": 1}, "holdout": 1000000}})
    _hot_lead(engine)
    d = engine.exit_intent(visitor_id="v1", cart_id="c1")
    assert not d["show"] and d["reason"] == "holdout" and d["variant"] == "holdout"


def test_the_incentive_budget_holds_over_many_abandoners(make_engine):
    engine = _engine(make_engine, incentive={"share": 0.2})
    shown = 0
    for i in range(300):
        _hot_lead(engine, f"c{i}", email=f"s{i}@example.com", visitor=f"v{i}")
        shown += engine.exit_intent(visitor_id=f"v{i}", cart_id=f"c{i}")["show"]
    # A hard cap (never above 20 %), nearly used up by the deterministic draw.
    assert 0.15 * 300 <= shown <= 0.2 * 300 + 1


def test_csv_import_reports_bad_rows_by_line_and_skips_duplicates(make_engine, tmp_path):
    engine = _engine(make_engine)
    csv = tmp_path / "codes.csv"
    csv.write_text("code,note\nAAA111,x\n\"bbb-222\",y\nAAA111,dup\n,empty\nCC*C,bad\nDDD444,z\n")
    seen = []
    report = engine.import_coupons("csv", csv, column="code", progress=seen.append)
    assert report["imported"] == 3 and report["duplicates_in_file"] == 1
    assert [(line, reason) for line, reason, _ in report["bad_rows"]] == [(5, "empty_code"), (6, "invalid_characters")]
    assert seen and seen[-1] == csv.stat().st_size
    again = engine.import_coupons("csv", csv, column="code")
    assert again["imported"] == 0 and again["already_known"] == 3
    assert engine.free_coupons("csv") == 3


def test_redeem_refuses_foreign_expired_and_used_codes(make_engine, clock):
    engine = _engine(make_engine)
    _hot_lead(engine)
    code = engine.exit_intent(visitor_id="v1", cart_id="c1")["coupon"]["code"]
    assert engine.redeem_coupon(code, "o-2", "bob@example.com")["problem"] == "assigned_to_another_contact"
    assert engine.redeem_coupon(code, "o-1", "ann@example.com")["redeemed"]
    assert engine.redeem_coupon(code, "o-1", "ann@example.com")["redeemed"]  # a retrying checkout
    assert engine.redeem_coupon(code, "o-3", "ann@example.com")["problem"] == "already_redeemed"
    assert engine.validate_coupon("NOPE99")["problem"] == "unknown"
    _hot_lead(engine, "c2", email="cy@example.com", visitor="v2")
    late = engine.exit_intent(visitor_id="v2", cart_id="c2")["coupon"]["code"]
    clock.advance(timedelta(days=8))
    assert engine.validate_coupon(late, "cy@example.com")["problem"] == "expired"
    assert engine.validate_coupon("welcome5")["valid"]  # the static code is everyone's


def test_an_empty_pool_shows_no_coupon(make_engine):
    engine = _engine(make_engine, pool="csv")
    _hot_lead(engine)
    d = engine.exit_intent(visitor_id="v1", cart_id="c1")
    assert not d["show"] and d["reason"] == "no_coupons_left"


def _draw(path, start, count, queue):
    engine = cr.Engine(store=f"sqlite:///{path}", settings={
        "coupon_pools": [{"name": "csv", "kind": "imported", "percent": 10}],
        "exit_intent": {"pool": "csv", "incentive": {"share": 1.0}, "coupon_min_stage": "cart"}})
    codes = []
    for i in range(start, start + count):
        engine.track("cart_updated", cart_id=f"c{i}", visitor_id=f"v{i}", currency="EUR",
                     items=[{"sku": "K", "price": "10", "quantity": 1}])
        engine.track("contact_captured", cart_id=f"c{i}", visitor_id=f"v{i}", email=f"p{i}@example.com")
        d = engine.exit_intent(visitor_id=f"v{i}", cart_id=f"c{i}")
        if d["show"]:
            codes.append(d["coupon"]["code"])
    engine.close()
    queue.put(codes)


def test_two_processes_drawing_from_one_pool_never_hand_out_the_same_code(tmp_path):
    path = tmp_path / "pool.db"
    engine = cr.Engine(store=f"sqlite:///{path}", settings={
        "coupon_pools": [{"name": "csv", "kind": "imported", "percent": 10}]})
    csv = tmp_path / "codes.csv"
    csv.write_text("code\n" + "\n".join(f"CODE{i:04d}".replace("0", "A").replace("1", "C")
                                         .replace("2", "D").replace("5", "E").replace("8", "F")
                                         for i in range(60)) + "\n")
    assert engine.import_coupons("csv", csv)["imported"] == 60
    engine.close()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_draw, args=(path, n * 100, 40, queue)) for n in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    codes = results[0] + results[1]
    assert len(codes) == 60  # 80 asked, 60 codes: every code handed out once, then none left
    assert len(set(codes)) == len(codes)


def _flow_with_coupon(pool):
    return cr.Flow("with-coupon", abandon_after="1h", paths=[cr.Path("everyone", steps=[
        cr.Step(after="1h", channels=["email"], coupon=pool)])])


def test_a_step_with_a_coupon_pauses_on_an_empty_pool_and_resumes_on_import(make_engine, clock, tmp_path):
    from conftest import HOUR, run_at, sent

    engine = make_engine(flows=[_flow_with_coupon("csv")], settings={
        "coupon_pools": [{"name": "csv", "kind": "imported", "percent": 15}]})
    first = tmp_path / "one.csv"
    first.write_text("code\nFIRST7\n")
    engine.import_coupons("csv", first)
    add_cart(engine, "c1", email="ann@example.com")
    add_cart(engine, "c2", email="bob@example.com")
    run_at(engine, clock, T0 + HOUR)
    [got] = sent(engine, "c1") or sent(engine, "c2")
    assert "FIRST7" in got["text"]  # the code is in the reminder (R4.1)
    waiting = [m for m in engine.messages() if m["status"] == "paused"]
    assert len(waiting) == 1 and waiting[0]["reason"] == "coupon_pool_empty:csv"
    [flow] = engine.flows()
    assert flow["status"] == "paused" and flow["paused"][0]["reason"] == "coupon_pool_empty:csv"
    more = tmp_path / "more.csv"
    more.write_text("code\nSECOND9\n")
    engine.import_coupons("csv", more)  # codes again: the paused step goes on at once
    run_at(engine, clock, T0 + HOUR + timedelta(minutes=1))
    texts = [m["text"] for m in engine.messages() if m["status"] == "sent"]
    assert len(texts) == 2 and any("SECOND9" in t for t in texts)
    assert engine.flows()[0]["status"] == "running"


def test_a_flow_naming_an_unknown_pool_is_a_config_error(make_engine):
    with pytest.raises(cr.ConfigError) as e:
        make_engine(flows=[_flow_with_coupon("nope")])
    assert e.value.field == "flows.with-coupon.paths.everyone.steps[0].coupon"


def test_expired_unused_codes_are_pruned_after_a_grace_period(make_engine, clock):
    engine = _engine(make_engine)
    _hot_lead(engine)
    code = engine.exit_intent(visitor_id="v1", cart_id="c1")["coupon"]["code"]  # valid 7 days
    clock.advance(timedelta(days=8))
    engine.run_due()
    assert engine.validate_coupon(code, "ann@example.com")["problem"] == "expired"  # still known
    clock.advance(timedelta(days=31))
    engine.close()  # a new engine's first worker run writes a heartbeat, which prunes
    engine = _engine(make_engine)
    engine.run_due()
    assert engine.validate_coupon(code, "ann@example.com")["problem"] == "unknown"


def test_ids_must_be_ids_not_placeholders(make_engine):
    # README's old `exit_intent(visitor_id=...)` ran happily with the visitor "Ellipsis".
    engine = _engine(make_engine)
    _hot_lead(engine)
    for kwargs, field in (({"visitor_id": ...}, "visitor_id"), ({"visitor_id": None}, "visitor_id"),
                          ({"visitor_id": "v1", "cart_id": ...}, "cart_id")):
        with pytest.raises(cr.ValidationError) as e:
            engine.exit_intent(**kwargs)
        assert e.value.field == field
    with pytest.raises(cr.ValidationError) as e:
        engine.redeem_coupon("ANY", ..., email="ann@example.com")
    assert e.value.field == "order_id"
    assert engine.exit_intent(visitor_id="v1", cart_id="c1")["show"]
