"""Shop templates under any name: a flow may name a template the shop added (not only override
a shipped one); the engine checks every name and every template file when it starts, with
file:line errors."""
from __future__ import annotations

import pytest

import cartrecovery as cr
from conftest import HOUR, SETTINGS, T0, add_cart, run_at, sent


def _flow(template="vip_thanks"):
    return cr.Flow.from_json({"name": "vip", "abandon_after": "1h", "paths": [
        {"name": "everyone", "steps": [
            {"after": "1h", "channels": ["email"], "template": template}]}]})


def _templates(tmp_path, **files):
    d = tmp_path / "templates"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return str(d)


VIP = {
    "vip_thanks.email.en.subject.mustache": "{{shop.name}} kept your cart, {{first_name}}",
    "vip_thanks.email.en.text.mustache": "Thanks for coming back! {{#items}}{{name}} {{/items}}{{cart_url}}",
    "vip_thanks.email.en.html.mustache": "<html><body><p>Thanks! <a href=\"{{cart_url}}\">Your cart</a></p></body></html>",
}


def test_a_flow_may_name_a_template_the_shop_added(make_engine, clock, tmp_path):
    flow = _flow()  # accepted before any engine exists: the name is the shop's business
    assert flow.to_dict()["paths"][0]["steps"][0]["template"] == "vip_thanks"
    engine = make_engine(flows=[flow], settings={**SETTINGS, "templates": _templates(tmp_path, **VIP)})
    add_cart(engine, first_name="Ann", consent={"personalization": True})
    run_at(engine, clock, T0 + 2 * HOUR)
    (m,) = sent(engine)
    assert m["subject"] == "Kite Shop kept your cart, Ann"
    assert m["text"].startswith("Thanks for coming back! Kite Pro 9m https://kite.example/cart/c1")


def test_a_template_nobody_added_is_refused_when_the_engine_starts(make_engine, tmp_path):
    with pytest.raises(cr.ConfigError) as e:
        make_engine(flows=[_flow("vip_thanks")], settings={**SETTINGS, "templates": _templates(tmp_path)})
    assert e.value.field == "flows.vip.paths[0].steps[0].template"
    assert "vip_thanks" in str(e.value)


def test_a_shop_added_template_with_a_mustache_error_names_file_and_line(make_engine, tmp_path):
    files = dict(VIP)
    files["vip_thanks.email.en.text.mustache"] = "Thanks!\n{{#items}}{{name}}\n"  # never closed
    with pytest.raises(cr.ConfigError) as e:
        make_engine(flows=[_flow()], settings={**SETTINGS, "templates": _templates(tmp_path, **files)})
    assert e.value.field.startswith("vip_thanks.email.en.text.mustache:")


def test_an_incomplete_shop_added_email_template_names_the_missing_file(make_engine, tmp_path):
    files = dict(VIP)
    del files["vip_thanks.email.en.html.mustache"]
    with pytest.raises(cr.ConfigError) as e:
        make_engine(flows=[_flow()], settings={**SETTINGS, "templates": _templates(tmp_path, **files)})
    assert "vip_thanks.email.en.html.mustache" in e.value.field


def test_a_malformed_template_name_is_refused_in_the_document(tmp_path):
    with pytest.raises(cr.ConfigError) as e:
        _flow("vip thanks!")
    assert e.value.field == "paths[0].steps[0].template"
