"""A person's data: engine.export() gives everything stored about them, engine.forget()
erases it everywhere, keeps anonymous counts (reports do not change) and leaves no byte of
the address, number or name in the SQLite file or its WAL; on PostgreSQL in no table."""
from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest

import cartrecovery as cr
from conftest import (HOUR, ON_POSTGRES, PG_URL, T0, RawPostgres, _pg_schema, add_cart, run_at,
                      sent)

EMAIL = "zephyrine.quillfeather@example.org"
PHONE = "+48601234567"
NAME = "Zephyrine"
OTHER = "bob@example.com"

SETTINGS = {
    "shop_name": "Kite Shop", "base_url": "https://kite.example/cr/", "secret": "s3cret-s3cret-s3cret-key",
    "sales_alert": {"min_value": "0", "channels": ["email"], "to": "team@kite.example"},
    "coupon_pools": [{"name": "exit10", "kind": "generated", "percent": 10, "prefix": "KITE",
                      "valid_for": "7d"}],
    "exit_intent": {"pool": "exit10", "incentive": {"share": 1.0}},
}


def _person(engine, clock):
    """Zephyrine: a cart, her address, phone, name and consent, a popup with a coupon, a
    reminder she opened and clicked, a page view, then an unsubscribe. Bob: a control."""
    engine.track("page_view", visitor_id="v-z", page_type="product", url="https://kite.example/p/1")
    add_cart(engine, "cz", email=EMAIL, phone=PHONE, visitor_id="v-z", first_name=NAME,
             consent={"email": True, "sms": True, "personalization": True})
    engine.track("checkout_stage", cart_id="cz", stage="payment")
    popup = engine.exit_intent(visitor_id="v-z", cart_id="cz")
    assert popup["show"] and popup["coupon"]
    add_cart(engine, "cb", email=OTHER, visitor_id="v-b", first_name="Bob")
    run_at(engine, clock, T0 + 2 * HOUR)
    mine = [m for m in sent(engine, "cz") if m["flow"] != "sales_alert"]
    assert mine and mine[0]["to"] == EMAIL and NAME in mine[0]["text"]
    engine.track("link_clicked", message_id=mine[0]["message_id"], url="https://kite.example/cart/cz")
    engine.track("unsubscribed", email=EMAIL, at=T0 + 3 * HOUR)
    clock.set(T0 + 4 * HOUR)
    engine.flush()
    return popup["coupon"]["code"]


def _reports(engine):
    return (engine.report(by=("day", "flow", "step", "channel")), engine.funnel(),
            engine.leads(), engine.experiment_report("coupon"))


def _file_bytes(db_path) -> bytes:
    data = b""
    for suffix in ("", "-wal"):
        path = f"{db_path}{suffix}"
        if os.path.exists(path):
            with open(path, "rb") as f:
                data += f.read()
    return data


def _needles():
    return [EMAIL.encode(), EMAIL.split("@")[0].encode(), PHONE.encode(), PHONE[1:].encode(),
            NAME.encode(), b"v-z", b"e:" + EMAIL.encode()]


def test_export_gives_everything_stored_about_the_person(make_engine, clock):
    engine = make_engine(settings=SETTINGS)
    code = _person(engine, clock)
    data = engine.export(email=EMAIL.upper())  # addresses are matched as ingest spells them
    json.dumps(data)  # JSON-ready
    assert data["email"] == EMAIL
    (contact,) = data["contacts"]
    assert contact["email"] == EMAIL and contact["phone"] == PHONE and contact["first_name"] == NAME
    assert [c["cart_id"] for c in data["carts"]] == ["cz"]
    assert data["carts"][0]["items"][0]["sku"] == "KITE-1"
    assert [m["to_addr"] for m in data["messages"] if m["flow"] != "sales_alert"] == [EMAIL]
    assert any(m["flow"] == "sales_alert" for m in data["messages"])  # the team's alert about her
    assert [c["code"] for c in data["coupons"]] == [code]
    assert len(data["popup_decisions"]) == 1
    types = sorted({e["type"] for e in data["events"]})
    assert types == ["cart_updated", "checkout_stage", "contact_captured", "page_view", "unsubscribed"]
    assert {e["visitor_id"] for e in data["visitors"]} == {"v-z"}
    # Consent changes with their time and source.
    history = [(c["what"], bool(c["granted"]), c["source"]) for c in data["consent_history"]]
    assert ("email", True, "contact_captured") in history
    assert ("sms", True, "contact_captured") in history
    assert history[-1] == ("subscription", False, "unsubscribed")
    assert data["consent_history"][-1]["at_ms"] == int((T0 + 3 * HOUR).timestamp() * 1000)
    # By phone: the same person.
    assert [c["contact_key"] for c in engine.export(phone=PHONE)["contacts"]] == [contact["contact_key"]]
    # Nobody by that address: empty, not an error.
    empty = engine.export(email="nobody@example.com")
    assert empty["contacts"] == [] and empty["events"] == []


def test_export_and_forget_refuse_bad_input():
    engine = cr.Engine(store=":memory:")
    try:
        with pytest.raises(cr.ValidationError) as e:
            engine.forget()
        assert e.value.field == "email"
        with pytest.raises(cr.ValidationError) as e:
            engine.export(email="not an address")
        assert e.value.field == "email"
        with pytest.raises(cr.ValidationError) as e:
            engine.forget(email=42)
        assert e.value.field == "email"
    finally:
        engine.close()


@pytest.mark.sqlite_only("scans the SQLite file and its WAL")
def test_forget_leaves_no_byte_in_the_sqlite_file_or_wal_and_reports_stay(make_engine, clock, db_path):
    engine = make_engine(settings=SETTINGS)
    _person(engine, clock)
    before = _reports(engine)
    raw = _file_bytes(db_path)
    assert all(n in raw for n in _needles()), "the test would prove nothing"

    erased = engine.forget(email=EMAIL)
    assert erased["contacts"] >= 1 and erased["events"] >= 4 and erased["messages"] >= 2

    raw = _file_bytes(db_path)  # the engine is still open: what a thief would read now
    found = [n for n in _needles() if n in raw]
    assert found == [], f"still in the store's files: {found}"
    assert _reports(engine) == before  # anonymous counts kept
    assert engine.export(email=EMAIL)["contacts"] == []
    # Bob is untouched and still gets his reminders.
    assert OTHER.encode() in _file_bytes(db_path)
    assert engine.export(email=OTHER)["contacts"][0]["first_name"] == "Bob"
    assert [m["to"] for m in sent(engine, "cb") if m["flow"] != "sales_alert"] == [OTHER]
    # The forgotten cart's journey sends nothing more.
    run_at(engine, clock, T0 + 10 * 24 * HOUR)
    assert all(m["to"] is None for m in engine.messages(cart_id="cz"))


def test_forget_by_phone_ends_running_journeys_and_nothing_more_is_sent(make_engine, clock):
    engine = make_engine(settings={"shop_name": "Kite Shop"})
    add_cart(engine, "cz", email=EMAIL, phone=PHONE, first_name=NAME)
    run_at(engine, clock, T0 + 2 * HOUR)  # reminder 1 sent, reminder 2 waiting
    assert len(sent(engine, "cz")) == 1
    assert engine.cart("cz")["journey"]["next_step"] == 2
    erased = engine.forget(phone=PHONE)
    assert erased["contacts"] == 1
    run_at(engine, clock, T0 + 5 * 24 * HOUR)
    assert len(sent(engine, "cz")) == 1
    assert engine.cart("cz")["journey"]["next_step"] is None
    assert engine.forget(phone=PHONE) == {}  # nobody left by that number


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL: every text column of every table")
def test_forget_leaves_nothing_in_any_postgresql_table(make_engine, clock, db_path):
    engine = make_engine(settings=SETTINGS)
    _person(engine, clock)
    before = _reports(engine)
    raw = RawPostgres(PG_URL)
    schema = _pg_schema(db_path)

    def hits():
        columns = raw.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
            f"'{schema}' AND data_type IN ('text', 'character varying', 'json', 'jsonb')")
        assert len(columns) > 20
        found = []
        for table, column in columns:
            for needle in (EMAIL, PHONE, NAME, "v-z"):
                n = raw.execute(f"SELECT count(*) FROM {schema}.{table} WHERE {column}::text LIKE '%{needle}%'")
                if int(n[0][0]):
                    found.append((table, column, needle))
        return found

    try:
        assert hits(), "the test would prove nothing"
        engine.forget(email=EMAIL)
        assert hits() == []
    finally:
        raw.close()
    assert _reports(engine) == before


@pytest.mark.sqlite_only("the command line opens the SQLite file")
def test_the_command_line_exports_and_forgets(make_engine, clock, db_path, capsys):
    from cartrecovery.cli import main

    engine = make_engine(settings=SETTINGS)
    _person(engine, clock)
    engine.close()
    store = f"sqlite:///{db_path}"
    assert main(["export", "--store", store, "--phone", PHONE]) == 0
    assert json.loads(capsys.readouterr().out)["contacts"][0]["first_name"] == NAME
    assert main(["forget", "--store", store, "--email", EMAIL]) == 0
    out = capsys.readouterr().out
    assert "contacts 1" in out and EMAIL not in out
    assert not any(n in _file_bytes(db_path) for n in _needles())
    assert main(["forget", "--store", store, "--email", EMAIL]) == 0
    assert "nothing to erase" in capsys.readouterr().out
