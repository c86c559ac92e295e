"""A/B tests on flow steps (R6.3): each contact is drawn once into a variant or the holdout,
the variant decides the coupon and template, the holdout gets nothing from that step on, and
the report and the experiment report count it all. Expected assignments are computed here
from the documented hash (offer.h AssignVariant), independently of the engine."""
import hashlib
import re
from decimal import Decimal

import pytest

import cartrecovery as cr
from conftest import DAY, HOUR, SETTINGS, T0, add_cart, run_at

POOLS = {"coupon_pools": [{"name": "TEN", "kind": "generated", "percent": 10, "prefix": "TEN"}]}


def expected_variant(experiment: str, contact_key: str, weights: list[tuple[str, int]]) -> str:
    digest = hashlib.sha256(b"cartrecovery.ab.v1\0" + experiment.encode() + b"\0" + contact_key.encode()).digest()
    h = int.from_bytes(digest[:8], "big")
    total = sum(w for _, w in weights)
    point = (h * total) >> 64
    for name, weight in weights:
        if point < weight:
            return name
        point -= weight
    raise AssertionError("unreachable")


def ab_flow(plain=1, coupon=1, holdout=1) -> cr.Flow:
    return cr.Flow("ab", paths=[cr.Path("everyone", steps=[
        cr.Step(after="1h", experiment="first-reminder", holdout=holdout, variants=[
            cr.Variant("plain", weight=plain),
            cr.Variant("coupon", weight=coupon, coupon="TEN", template="customer_1")]),
        cr.Step(after="1d")])])


def settings():
    return {**SETTINGS, **POOLS}


def test_contacts_are_drawn_as_documented_and_the_arms_differ(make_engine, clock):
    engine = make_engine(flows=[ab_flow()], settings=settings())
    weights = [("plain", 1), ("coupon", 1), ("holdout", 1)]
    n = 90
    for i in range(n):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)
    expected = {i: expected_variant("first-reminder", f"e:s{i}@example.com", weights) for i in range(n)}
    assert set(expected.values()) == {"plain", "coupon", "holdout"}
    for i in range(n):
        [m] = engine.messages(cart_id=f"c{i}")
        assert m["variant"] == expected[i]
        if expected[i] == "holdout":
            assert (m["status"], m["reason"]) == ("suppressed", "holdout")
            assert engine.cart(f"c{i}")["journey"]["state"] == "ended"
        else:
            assert m["status"] == "sent"
            has_code = re.search(r"\bTEN[A-Z0-9]{8,}", m["text"]) is not None
            assert has_code == (expected[i] == "coupon")
    # Step 2 carries no experiment; the holdout got nothing from step 1 on.
    run_at(engine, clock, T0 + HOUR + DAY)
    for i in range(n):
        steps = [m["step"] for m in engine.messages(cart_id=f"c{i}") if m["status"] == "sent"]
        assert steps == ([] if expected[i] == "holdout" else [1, 2])


def test_the_first_assignment_sticks_when_weights_change(make_engine, clock, db_path):
    first = make_engine(flows=[ab_flow()], settings=settings())
    for i in range(30):
        add_cart(first, f"a{i}", email=f"s{i}@example.com")
    run_at(first, clock, T0 + HOUR)
    before = {i: first.messages(cart_id=f"a{i}")[0]["variant"] for i in range(30)}
    run_at(first, clock, T0 + HOUR + DAY)  # step 2: every journey is over
    first.close()
    # Everybody new would now get "plain"; the contacts drawn before keep their arm for
    # their next cart (and a retried step keeps it too).
    second = make_engine(flows=[ab_flow(plain=1, coupon=0, holdout=0)], settings=settings())
    clock.advance(30 * DAY)
    for i in range(40):
        add_cart(second, f"b{i}", email=f"s{i}@example.com")
    run_at(second, clock, clock.now() + HOUR)
    for i in range(40):
        m = second.messages(cart_id=f"b{i}")[0]
        assert (m["step"], m["variant"]) == (1, before[i] if i < 30 else "plain")


def test_the_report_and_the_experiment_report_count_each_arm_exactly(make_engine, clock):
    engine = make_engine(flows=[ab_flow()], settings=settings())
    weights = [("plain", 1), ("coupon", 1), ("holdout", 1)]
    n = 120
    for i in range(n):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)
    arm = {i: expected_variant("first-reminder", f"e:s{i}@example.com", weights) for i in range(n)}
    # Known outcomes: every third shopper orders two hours later; coupon-arm buyers use their code.
    clock.set(T0 + 3 * HOUR)
    trials = {"plain": 0, "coupon": 0, "holdout": 0}
    conversions = dict.fromkeys(trials, 0)
    with_coupon = 0
    for i in range(n):
        trials[arm[i]] += 1
        if i % 3:
            continue
        conversions[arm[i]] += 1
        code = None
        if arm[i] == "coupon":
            code = re.search(r"\bTEN[A-Z0-9]{8,}", engine.messages(cart_id=f"c{i}")[0]["text"]).group(0)
            with_coupon += 1
        engine.track("order_placed", order_id=f"o{i}", cart_id=f"c{i}", value="19.99", currency="EUR",
                     **({"coupon": code} if code else {}))
    rows = {r["variant"]: r for r in engine.report(by=("variant",), step=1)}
    for variant in ("plain", "coupon"):
        assert rows[variant]["sent"] == trials[variant]
        assert rows[variant]["orders"] == conversions[variant]
        assert rows[variant]["conversion"] == pytest.approx(conversions[variant] / trials[variant])
        assert rows[variant]["revenue"] == Decimal("19.99") * conversions[variant]
    assert rows["coupon"]["orders_with_coupon"] == with_coupon
    assert rows["holdout"]["sent"] == 0 and rows["holdout"]["suppressed"] == trials["holdout"]
    # The holdout's orders follow no message, so only the experiment report counts them.
    assert rows["holdout"]["orders"] == 0
    results = {r["variant"]: r for r in engine.experiment_report("first-reminder")}
    for variant in trials:
        assert (results[variant]["trials"], results[variant]["conversions"]) == (trials[variant], conversions[variant])
    assert results["holdout"]["vs_holdout"] is None
    diff = results["coupon"]["vs_holdout"]
    assert diff["difference"] == pytest.approx(results["coupon"]["rate"] - results["holdout"]["rate"])
    [info] = [e for e in engine.experiments() if e["name"] == "first-reminder"]
    assert (info["kind"], info["flow"], info["path"], info["step"]) == ("step", "ab", "everyone", 1)
    assert {r["variant"] for r in info["results"]} == set(trials)


def test_unknown_experiments_and_pools_are_named(make_engine):
    engine = make_engine(flows=[ab_flow()], settings=settings())
    with pytest.raises(cr.ValidationError) as e:
        engine.experiment_report("nope")
    assert e.value.field == "experiment" and "first-reminder" in str(e.value)
    with pytest.raises(cr.ConfigError) as e:
        make_engine(flows=[ab_flow()], settings=SETTINGS)  # no pool TEN
    assert "variants[1].coupon" in str(e.value)
    with pytest.raises(cr.ConfigError) as e:
        cr.Flow.from_json({"name": "x", "paths": [{"name": "p", "steps": [
            {"after": "1h", "channels": ["email"], "variants": [{"name": "holdout"}]}]}]})
    assert e.value.field == "paths[0].steps[0].variants[0].name"
    with pytest.raises(cr.ConfigError) as e:
        make_engine(flows=[ab_flow(), cr.Flow("other", paths=[cr.Path("p", steps=[
            cr.Step(after="1h", experiment="first-reminder", variants=[cr.Variant("x")])])])],
            settings=settings())
    assert "duplicate experiment name" in str(e.value)


def test_the_experiment_report_counts_the_trials_of_a_period(make_engine, clock):
    engine = make_engine(flows=[ab_flow()], settings=settings())
    for i in range(40):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com", at=T0 + (i // 20) * DAY)
    run_at(engine, clock, T0 + HOUR)        # the first 20 are drawn on day 1
    run_at(engine, clock, T0 + DAY + HOUR)  # the other 20 on day 2
    first_day = engine.experiment_report("first-reminder", until=T0 + DAY)
    second_day = engine.experiment_report("first-reminder", since=T0 + DAY)
    everything = engine.experiment_report("first-reminder")
    trials = lambda rows: {r["variant"]: r["trials"] for r in rows}  # noqa: E731
    assert sum(trials(first_day).values()) == 20 and sum(trials(second_day).values()) == 20
    assert {v: trials(first_day).get(v, 0) + trials(second_day).get(v, 0) for v in trials(everything)} \
        == trials(everything)
    [info] = engine.experiments(since=T0 + DAY)
    assert sum(r["trials"] for r in info["results"]) == 20


def test_a_flow_without_contacts_draws_by_cart(make_engine, clock):
    flow = cr.Flow("webhooks", enter_when={"has_contact": False}, paths=[cr.Path("all", steps=[
        cr.Step(after="1h", channels=["crm"], experiment="crm-test", holdout=1,
                variants=[cr.Variant("a")])])])
    engine = make_engine(flows=[flow], channels={"crm": cr.OutboxChannel()})
    for i in range(20):
        add_cart(engine, f"c{i}", email=None)
    run_at(engine, clock, T0 + HOUR)
    weights = [("a", 1), ("holdout", 1)]
    for i in range(20):
        [m] = engine.messages(cart_id=f"c{i}")
        assert m["variant"] == expected_variant("crm-test", f"cart:c{i}", weights)
    assert engine.status()["last_error"] is None
