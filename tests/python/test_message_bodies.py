"""Issue 9: the rendered body lives in a cold table (message_bodies), not in the hot message
row that every status change rewrites. What each channel was handed is what
engine.messages() (and export) gives back, byte for byte, across flows, languages, channels,
experiments, coupons, quiet hours and retries, after a template change and a restart; the
hot rows hold no body; retention and forget take the bodies with them."""
from __future__ import annotations

import base64
import pathlib
import random
from datetime import timedelta
from decimal import Decimal

import pytest

import cartrecovery as cr
from conftest import DAY, HOUR, ON_POSTGRES, SETTINGS, T0, add_cart, run_at, store_execute, store_url

FLOWS = pathlib.Path(__file__).resolve().parents[2] / "examples" / "flows"
POOLS = {"coupon_pools": [{"name": "TEN", "kind": "generated", "percent": 10, "prefix": "TEN",
                           "valid_for": "7d"}]}
NAMES = ["Zoë", "Łukasz", "Ann", "Jürgen", "Ana María", None]
LANGUAGES = ["en", "de-AT", "pl", "fr", None]


def _all_channels_flow() -> dict:
    """Every channel kind, an experiment with a coupon arm, a second step."""
    return {"name": "every-channel", "abandon_after": "30m", "paths": [{"name": "all", "steps": [
        {"after": "1h", "channels": ["email", "sms", "push", "crm"], "experiment": "first",
         "variants": [{"name": "plain"}, {"name": "coupon", "coupon": "TEN"}]},
        {"after": "1d", "channels": ["email", "sms"]}]}]}


class Capture:
    """A CallbackChannel's function per channel name: keeps what each message was handed
    (the last attempt's), and fails some first attempts so that retries re-plan them."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.got: dict[str, dict] = {}
        self.failed: set[str] = set()

    def channel(self) -> cr.CallbackChannel:
        def send(m: dict) -> None:
            if m["message_id"] not in self.failed and self.rng.random() < 0.15:
                self.failed.add(m["message_id"])
                raise cr.DeliveryError("provider busy", transient=True)
            self.got[m["message_id"]] = {k: m[k] for k in ("channel", "to", "subject", "text", "html")}
        return cr.CallbackChannel(send)


def _engine(make_engine, capture: Capture, settings: dict) -> cr.Engine:
    flows = [cr.Flow.from_file(FLOWS / "email-and-sms.json"), _all_channels_flow()]
    return make_engine(flows=flows, settings=settings,
                       channels={name: capture.channel() for name in ("email", "sms", "push", "crm")})


def _settings(**extra) -> dict:
    # (SMS keeps its default quiet hours, 20:00-09:00 in the shop's time zone.)
    return {**SETTINGS, **POOLS, "secret": "s3cret-s3cret-s3cret-key", "timezone": "Europe/Warsaw", **extra}


def _shoppers(engine: cr.Engine, rng: random.Random, n: int) -> None:
    for i in range(n):
        at = T0 + timedelta(minutes=rng.randrange(0, 600))
        items = [{"sku": f"S{k}", "name": rng.choice(["Kite", "Board", "Lätzchen", "Łódka"]),
                  "price": Decimal(rng.choice(["9.99", "30.00", "249.00"])), "quantity": rng.randint(1, 3)}
                 for k in range(rng.randint(1, 3))]
        contact = {"consent": {"sms": True, "push": True, "personalization": True}}
        if name := rng.choice(NAMES):
            contact["first_name"] = name
        if language := rng.choice(LANGUAGES):
            contact["language"] = language
        add_cart(engine, f"c{i}", items=items, email=f"s{i}@example.com", phone=f"+4860100{i:04d}",
                 at=at, currency=rng.choice(["EUR", "PLN"]), **contact)
        if rng.random() < 0.5:
            key = base64.urlsafe_b64encode(bytes(65)).decode().rstrip("=")
            engine.track("push_subscribed", at=at, cart_id=f"c{i}", subscription={
                "endpoint": f"https://push.example/{i}", "keys": {"p256dh": key, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}})
    engine.flush()


def _stored(engine: cr.Engine) -> dict:
    return {m["message_id"]: m for m in engine.messages(limit=None)}


def _check_same(capture: Capture, stored: dict) -> None:
    assert capture.got, "nothing was sent"
    for mid, got in capture.got.items():
        m = stored[mid]
        assert m["status"] == "sent", m
        # (A push message's stored address is blank: the subscription is the contact's.)
        to = "" if got["channel"] == "push" else got["to"]
        assert (m["to"] or "", m["subject"] or "", m["text"] or "", m["html"] or "") == (
            to, got["subject"], got["text"], got["html"]), mid


def test_what_each_channel_was_handed_is_what_messages_returns(make_engine, clock, tmp_path):
    rng = random.Random(9)
    capture = Capture(rng)
    engine = _engine(make_engine, capture, _settings())
    _shoppers(engine, rng, 40)
    t = T0

    def run_until(end):
        nonlocal t
        while t < end:
            t += timedelta(minutes=rng.choice([20, 45, 90, 240]))
            run_at(engine, clock, t)
            for m in rng.sample(sorted(capture.got), min(3, len(capture.got))):
                if rng.random() < 0.3:  # opens rewrite the hot row, never the body
                    engine.track("message_opened", message_id=m)
        engine.flush()

    run_until(T0 + 2 * DAY)
    kinds = {g["channel"] for g in capture.got.values()}
    assert kinds == {"email", "sms", "push", "crm"}, kinds
    assert capture.failed & set(capture.got), "no retried message was delivered"
    stored = _stored(engine)
    assert {m["variant"] for m in stored.values() if m["flow"] == "every-channel"} >= {"plain", "coupon"}
    assert any("TEN" in (g["text"] or "") for g in capture.got.values()), "no coupon was sent"
    assert any(m["sent_at"] and m["sent_at"] - m["due_at"] >= HOUR for m in stored.values()
               if m["channel"] == "sms"), "quiet hours never deferred a message"
    _check_same(capture, stored)
    before = dict(capture.got)
    # The bodies kept are the ones sent, not a rendering of today's templates or names: the
    # shopper changes their name, the shop its templates, and the process restarts.
    engine.track("contact_captured", cart_id="c0", email="s0@example.com", first_name="Renamed")
    engine.close()
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "reminder.email.en.subject.mustache").write_text("CHANGED {{shop.name}}", encoding="utf-8")
    (templates / "reminder.sms.en.text.mustache").write_text("CHANGED {{cart_url}}", encoding="utf-8")
    engine = _engine(make_engine, capture, _settings(templates=str(templates)))
    _check_same(capture, _stored(engine))
    run_until(T0 + 8 * DAY)
    after = {mid: g for mid, g in capture.got.items() if mid not in before}
    assert any((g["subject"] or g["text"]).startswith("CHANGED") for g in after.values())
    assert not any("CHANGED" in (g["subject"] or "") + (g["text"] or "") for g in before.values())
    _check_same(capture, _stored(engine))


def _hot_rows(db_path) -> list[str]:
    return [" ".join(str(v) for v in row) for row in store_execute(db_path, "SELECT * FROM messages")]


def test_the_hot_row_holds_no_body_and_export_lists_the_text(make_engine, clock, db_path):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    add_cart(engine, "c1", first_name="Zephyrine", consent={"personalization": True})
    run_at(engine, clock, T0 + 2 * HOUR)
    (m,) = got
    assert "Zephyrine" in m["text"] and m["subject"]
    rows = _hot_rows(db_path)
    assert len(rows) == 1
    for needle in ("Zephyrine", m["subject"], m["text"][:40]):
        assert needle not in rows[0], needle
    (body,) = store_execute(db_path, "SELECT m.message_id, b.subject FROM message_bodies b"
                                     " JOIN messages m ON m.body_id = b.body_id")
    assert tuple(body) == (m["message_id"], m["subject"])
    (stored,) = engine.messages(cart_id="c1")
    assert (stored["subject"], stored["text"], stored["html"]) == (m["subject"], m["text"], m["html"])
    (exported,) = engine.export(email="ann@example.com")["messages"]
    assert (exported["subject"], exported["text"], exported["html"]) == (m["subject"], m["text"], m["html"])
    assert exported["to_addr"] == "ann@example.com"


def test_retention_and_forget_take_the_bodies(make_engine, clock, db_path):
    engine = make_engine(settings={**SETTINGS, "retention_bodies_days": 1, "retention_reports_days": 30,
                                   "retention_offers_days": 30, "retention_carts_days": 30})
    add_cart(engine, "c1", email="ann@example.com", first_name="Zephyrine", consent={"personalization": True})
    add_cart(engine, "c2", email="bob@example.com")
    run_at(engine, clock, T0 + 2 * HOUR)
    assert int(store_execute(db_path, "SELECT count(*) FROM message_bodies")[0][0]) == 2
    erased = engine.forget(email="bob@example.com")
    assert erased["message_bodies"] == 1
    assert [r[0] for r in store_execute(db_path, "SELECT text FROM message_bodies")] != []
    assert all(m["text"] is None for m in engine.messages(cart_id="c2"))
    (ann,) = engine.messages(cart_id="c1")
    assert "Zephyrine" in ann["text"]
    clock.set(T0 + 3 * DAY)
    engine.prune()
    assert int(store_execute(db_path, "SELECT count(*) FROM message_bodies")[0][0]) == 0
    (ann,) = engine.messages(cart_id="c1")
    assert ann["status"] == "sent" and ann["text"] is None and ann["to"] == "ann@example.com"


@pytest.mark.sqlite_only("how the SQLite file keeps the bodies")
def test_bodies_are_packed_against_their_template_and_read_back_whole(make_engine, clock, db_path):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    for i, name in enumerate(["Zoë", "Łukasz", "Ann", "Jürgen"] * 5):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com", first_name=name,
                 consent={"personalization": True})
    run_at(engine, clock, T0 + 2 * HOUR)
    assert len(got) == 20
    kinds, dictionaries, stored = store_execute(
        db_path, "SELECT group_concat(DISTINCT typeof(text) || '/' || typeof(html)),"
                 " count(DISTINCT dict_id), sum(length(text) + length(html)) FROM message_bodies")[0]
    assert (kinds, int(dictionaries)) == ("blob/blob", 1)
    rendered = sum(len(m["text"].encode()) + len(m["html"].encode()) for m in got)
    assert int(stored) * 3 < rendered, (stored, rendered)
    # The dictionary is the template's own text: nobody's name or address is in it.
    (dictionary,) = store_execute(db_path, "SELECT bytes FROM body_dictionaries")[0]
    assert b"{{" in dictionary and b"example.com" not in dictionary and "Zoë".encode() not in dictionary
    by_id = {m["message_id"]: m for m in engine.messages()}
    for m in got:
        assert (by_id[m["message_id"]]["text"], by_id[m["message_id"]]["html"]) == (m["text"], m["html"])
