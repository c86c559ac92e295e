"""R6.2: send a test message before going live: the real reminder, for a sample cart."""
import pytest

import cartrecovery as cr


def test_send_test_renders_the_real_reminder_in_the_chosen_language(make_engine):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    engine.send_test("email", "owner@kite.example", language="de")
    assert len(got) == 1
    msg = got[0]
    assert msg["to"] == "owner@kite.example" and msg["subject"].startswith("[TEST] ")
    assert "Sample product" in msg["text"] and "Sample product" in msg["html"]
    assert "Hallo" in msg["text"] or "Sie" in msg["text"]  # the German template, not English
    assert engine.messages() == []  # nothing stored


def test_send_test_to_an_unbound_channel_is_a_config_error(make_engine):
    engine = make_engine(channels={"email": cr.OutboxChannel()})
    with pytest.raises(cr.ConfigError):
        engine.send_test("sms", "+48601234567")


def test_a_refusing_channel_raises_delivery_error(make_engine):
    def refuse(message):
        err = cr.DeliveryError("550 mailbox unavailable")
        err.transient = False
        raise err

    engine = make_engine(channels={"email": cr.CallbackChannel(refuse)})
    with pytest.raises(cr.DeliveryError) as e:
        engine.send_test("email", "owner@kite.example")
    assert e.value.transient is False and "550" in str(e.value)
