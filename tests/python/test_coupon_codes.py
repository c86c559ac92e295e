"""Coupon codes as the shop wrote them (S10, R4.2): imported and static codes reach the shopper
unchanged; normalisation (case, dashes, underscores, spaces) only matches what a shopper
types back. An order naming a code uses it up; a test message shows a sample code."""
from __future__ import annotations

import cartrecovery as cr
from conftest import HOUR, T0, add_cart, run_at, sent


def _flow(pool):
    return cr.Flow("with-coupon", abandon_after="1h", paths=[cr.Path("everyone", steps=[
        cr.Step(after="1h", channels=["email"], coupon=pool)])])


def _engine(make_engine, pool=None, **kwargs):
    pools = [{"name": "csv", "kind": "imported", "percent": 10},
             {"name": "everyone", "kind": "static", "percent": 5, "code": "Summer_Sale-2026"}]
    return make_engine(flows=[_flow(pool)] if pool else None,
                       settings={"coupon_pools": pools}, **kwargs)


def test_an_imported_code_reaches_the_shopper_as_the_csv_wrote_it(make_engine, clock, tmp_path):
    engine = _engine(make_engine, "csv")
    csv = tmp_path / "codes.csv"
    csv.write_text("code\n  kite-Spring_10 ab \n")
    assert engine.import_coupons("csv", csv)["imported"] == 1
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    (m,) = sent(engine)
    assert "kite-Spring_10 ab" in m["text"] and "kite-Spring_10 ab" in m["html"]
    assert "KITESPRING10AB" not in m["text"] + m["html"]
    # The shopper may type it back in any spelling: it is the same code.
    for typed in ("kite-Spring_10 ab", "KITESPRING10AB", "kite spring 10 ab"):
        check = engine.validate_coupon(typed, "ann@example.com")
        assert check["valid"], typed
        assert check["coupon"]["code"] == "kite-Spring_10 ab"


def test_a_static_code_is_sent_as_the_shop_wrote_it(make_engine, clock):
    engine = _engine(make_engine, "everyone")
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    (m,) = sent(engine)
    assert "Summer_Sale-2026" in m["text"] and "SUMMERSALE2026" not in m["text"]


def test_an_order_naming_a_code_uses_it_up(make_engine, clock, tmp_path):
    engine = _engine(make_engine, "csv")
    csv = tmp_path / "codes.csv"
    csv.write_text("code\nKite-7777\n")
    engine.import_coupons("csv", csv)
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    assert engine.validate_coupon("kite-7777", "ann@example.com")["valid"]
    engine.track("order_placed", order_id="o1", cart_id="c1", value="59.97", currency="EUR",
                 coupon="kite7777")  # as the shopper typed it at the shop's checkout
    check = engine.validate_coupon("Kite-7777", "ann@example.com")
    assert not check["valid"] and check["problem"] == "already_redeemed"
    assert check["coupon"]["code"] == "Kite-7777"
    # The order that used it may still confirm it (idempotent); another may not.
    assert engine.redeem_coupon("Kite-7777", "o1", "ann@example.com")["redeemed"]
    assert engine.redeem_coupon("Kite-7777", "o2", "ann@example.com")["problem"] == "already_redeemed"


def test_an_order_naming_a_static_code_leaves_it_usable(make_engine, clock):
    engine = _engine(make_engine, "everyone")
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    engine.track("order_placed", order_id="o1", cart_id="c1", coupon="Summer_Sale-2026")
    assert engine.validate_coupon("summer sale 2026", "bob@example.com")["valid"]


def test_an_order_naming_an_unknown_code_is_still_an_order(make_engine, clock):
    engine = _engine(make_engine)
    add_cart(engine, "c1")
    engine.track("order_placed", order_id="o1", cart_id="c1", coupon="SHOP-OWN-CODE")
    assert engine.cart("c1")["state"] in ("ordered", "recovered")


def test_send_test_shows_a_sample_code_and_uses_none(make_engine, tmp_path):
    got = []
    engine = _engine(make_engine, "csv", channels={"email": cr.CallbackChannel(got.append)})
    csv = tmp_path / "codes.csv"
    csv.write_text("code\nREAL-1\n")
    engine.import_coupons("csv", csv)
    engine.send_test("email", "owner@kite.example", template="visitor_3_clicked")
    (m,) = got
    assert "SAMPLE-CODE" in m["text"] and "SAMPLE-CODE" in m["html"]
    assert "REAL-1" not in m["text"]
    assert engine.free_coupons("csv") == 1  # nothing handed out
