"""Sales alerts (R3.10): the team hears at once of a valuable abandoned cart."""
from decimal import Decimal

import pytest

import cartrecovery as cr
from conftest import HOUR, T0, add_cart, run_at


def _engine(make_engine, **alert):
    team, hook = [], []
    engine = make_engine(
        channels={"email": cr.OutboxChannel(), "team": cr.CallbackChannel(team.append),
                  "hook": cr.CallbackChannel(hook.append)},
        settings={"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
                  "sales_alert": {"min_value": Decimal("200"), "channels": ["team", "hook"], **alert}})
    return engine, team, hook


def test_a_valuable_cart_alerts_the_team_at_abandonment_once(make_engine, clock):
    engine, team, hook = _engine(make_engine)
    add_cart(engine, "big", items=[{"sku": "F", "name": "Foil kite", "price": "189.00", "quantity": 2,
                                    "image_url": "https://kite.example/img/foil.jpg"}],
             first_name="Ann", phone="+48601234567")
    add_cart(engine, "small", email="bob@example.com")  # 3 x 19.99 = 59.97: below 200
    run_at(engine, clock, T0 + HOUR)  # abandoned now
    run_at(engine, clock, T0 + 2 * HOUR)
    assert len(team) == 1 and len(hook) == 1  # one per channel, once
    alert = team[0]
    assert "378.00 EUR" in alert["subject"] and "Ann" in alert["subject"]
    assert "Foil kite" in alert["text"] and "ann@example.com" in alert["text"]
    assert "+48601234567" in alert["text"]
    payload = hook[0]["data"]
    assert payload["event"] == "sales_alert" and payload["cart"]["value"] == "378.00"
    assert payload["cart"]["items"][0]["image_url"] == "https://kite.example/img/foil.jpg"
    assert payload["contact"]["email"] == "ann@example.com"
    msgs = [m for m in engine.messages("big") if m["flow"] == "sales_alert"]
    assert {m["channel"] for m in msgs} == {"team", "hook"}
    assert all(m["status"] == "sent" and m["sent_at"] == T0 + HOUR for m in msgs)
    assert not [m for m in engine.messages("small") if m["flow"] == "sales_alert"]


def test_an_email_alert_needs_the_teams_address(make_engine):
    with pytest.raises(cr.ConfigError) as e:
        make_engine(channels={"email": cr.OutboxChannel()},
                    settings={"sales_alert": {"channels": ["email"]}})
    assert e.value.field == "sales_alert.to"


def test_an_alert_channel_must_be_bound(make_engine):
    with pytest.raises(cr.ConfigError):
        make_engine(channels={"email": cr.OutboxChannel()},
                    settings={"sales_alert": {"channels": ["slack"]}})
