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


# ---- issue 11, item 6: what the team reads, per-currency thresholds, the cart's own link ----

def _alert_engine(make_engine, settings=None, **alert):
    team = []
    base = {"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
            "sales_alert": {"channels": ["team"], "to": "sales@kite.example", **alert}}
    base.update(settings or {})
    engine = make_engine(channels={"email": cr.OutboxChannel(), "team": cr.CallbackChannel(team.append)},
                         settings=base)
    return engine, team


def _cart(engine, cart_id, price, currency="EUR", **contact):
    add_cart(engine, cart_id, items=[{"sku": "S", "name": "Kite & Bar", "price": price, "quantity": 1}],
             currency=currency, email=f"{cart_id}@example.com", **contact)


def test_the_alerts_subject_and_text_are_as_typed_and_only_html_is_escaped(make_engine, clock):
    team = []  # the team's e-mail: subject, plain text and HTML
    engine = make_engine(channels={"email": cr.CallbackChannel(team.append)}, settings={
        "shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
        "sales_alert": {"channels": ["email"], "to": "sales@kite.example", "min_value": "10"}},
        flows=[{"name": "none", "enter_when": {"min_value": "100000"}, "paths": [
            {"name": "p", "steps": [{"after": "1h", "channels": ["email"]}]}]}])
    _cart(engine, "c1", "300.00", first_name="O'Brien & Sons <Ltd>")
    run_at(engine, clock, T0 + HOUR)
    (alert,) = team
    assert alert["subject"] == "Abandoned cart: 300.00 EUR - O'Brien & Sons <Ltd>"
    assert "Shopper: O'Brien & Sons <Ltd>" in alert["text"]
    assert "Kite & Bar" in alert["text"] and "&amp;" not in alert["text"] + alert["subject"]
    assert "&#39;" not in alert["text"] + alert["subject"]
    assert "O&#39;Brien &amp; Sons &lt;Ltd&gt;" in alert["html"]  # the HTML part stays safe
    assert "<Ltd>" not in alert["html"]


def test_a_line_break_in_the_name_never_reaches_the_subject_line(make_engine, clock):
    # A name with CR/LF is refused at the door (issue 10), so no header can be smuggled into
    # the team's alert; the cart is alerted with the name it had before.
    engine, team = _alert_engine(make_engine, min_value="10")
    _cart(engine, "c1", "300.00", first_name="Ann")
    with pytest.raises(cr.ValidationError) as refused:
        engine.track("contact_captured", cart_id="c1", email="c1@example.com",
                     first_name="Ann\r\nBcc: x@evil.example")
    assert refused.value.field == "first_name"
    run_at(engine, clock, T0 + HOUR)
    assert len(team) == 1
    assert "\n" not in team[0]["subject"] and "\r" not in team[0]["subject"]
    assert "evil" not in team[0]["subject"] + team[0]["text"]


def test_a_threshold_in_the_shops_currency_does_not_pass_a_cart_in_another(make_engine, clock):
    engine, team = _alert_engine(make_engine, min_value="200")  # the shop's EUR
    _cart(engine, "yen", "250", currency="JPY")        # 250 JPY: about 1.5 EUR
    _cart(engine, "eur", "250.00")
    run_at(engine, clock, T0 + HOUR)
    assert len(team) == 1 and "250.00 EUR" in team[0]["subject"]


def test_a_threshold_per_currency(make_engine, clock):
    engine, team = _alert_engine(make_engine, min_value={"EUR": "200", "JPY": "30000"})
    _cart(engine, "yen_small", "250", currency="JPY")
    _cart(engine, "yen_big", "30000", currency="JPY")
    _cart(engine, "eur_small", "199.99")
    _cart(engine, "usd", "5000.00", currency="USD")  # no threshold and no rate for USD
    run_at(engine, clock, T0 + HOUR)
    assert [m["subject"].split(" - ")[0] for m in team] == ["Abandoned cart: 30000 JPY"]


def test_a_threshold_converted_with_the_shops_rates(make_engine, clock):
    # One JPY is worth 0.0061 EUR: 32,786 JPY is 199.9946 EUR, 32,787 JPY is 200.0007 EUR.
    engine, team = _alert_engine(make_engine, min_value="200", rates={"JPY": "0.0061", "KWD": "3"})
    _cart(engine, "below", "32786", currency="JPY")
    _cart(engine, "above", "32787", currency="JPY")
    _cart(engine, "kwd", "66.667", currency="KWD")  # 200.001 EUR
    _cart(engine, "kwd_low", "66.666", currency="KWD")  # 199.998 EUR
    run_at(engine, clock, T0 + HOUR)
    subjects = sorted(m["subject"].split(" - ")[0] for m in team)
    assert subjects == ["Abandoned cart: 32787 JPY", "Abandoned cart: 66.667 KWD"]


@pytest.mark.parametrize("alert, field", [
    ({"min_value": {"EURO": "200"}}, "sales_alert.min_value.EURO"),
    ({"min_value": {"JPY": "1.5"}}, "sales_alert.min_value.JPY"),
    ({"min_value": "-1"}, "sales_alert.min_value"),
    ({"min_value": "200", "rates": {"JPY": "0"}}, "sales_alert.rates.JPY"),
    ({"min_value": "200", "rates": {"JPY": "abc"}}, "sales_alert.rates.JPY"),
])
def test_a_bad_threshold_is_a_config_error_naming_it(make_engine, alert, field):
    with pytest.raises(cr.ConfigError) as e:
        _alert_engine(make_engine, **alert)
    assert e.value.field == field


def test_the_alert_links_to_that_cart(make_engine, clock):
    engine, team = _alert_engine(make_engine, min_value="10",
                                 settings={"secret": "s" * 32})
    # No restore_url of the shop's: the link is a signed restore link to this very cart.
    engine.track("cart_updated", cart_id="c9", visitor_id="v9", currency="EUR",
                 items=[{"sku": "S", "name": "Kite", "price": "300.00", "quantity": 1}])
    engine.track("contact_captured", cart_id="c9", email="c9@example.com")
    run_at(engine, clock, T0 + HOUR)
    (alert,) = team
    url = alert["text"].split("Cart c9: ")[1].split()[0]
    assert url != "https://kite.example/cr/" and url.startswith("https://kite.example/cr/")
    answer = engine.handle_link(url[len("https://kite.example/cr/"):])
    assert answer["status"] == 200 and answer["cart"]["cart_id"] == "c9"


def test_the_alert_uses_the_shops_own_link_to_the_cart(make_engine, clock):
    engine, team = _alert_engine(make_engine, min_value="10")
    _cart(engine, "c7", "300.00")  # add_cart gives restore_url https://kite.example/cart/c7
    run_at(engine, clock, T0 + HOUR)
    assert "Cart c7: https://kite.example/cart/c7\n" in team[0]["text"]
