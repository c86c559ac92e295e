"""E-mail over a real SMTP server (aiosmtpd on 127.0.0.1), and CallbackChannel."""
from __future__ import annotations

from datetime import timedelta

import pytest

pytest.importorskip("aiosmtpd")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

import cartrecovery as cr  # noqa: E402
from conftest import BOARD, HOUR, KITE, T0, add_cart, free_port, run_at  # noqa: E402

SENDER = "Kite Shop <shop@kite.example>"
USER, PASSWORD = "shop", "pa55-w0rd-Secret"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    # handled=False: aiosmtpd then answers 535 itself (handled=True would leave it silent).
    return AuthResult(success=ok, handled=False)


def smtp_engine(make_engine, port, **kwargs):
    channel = cr.SmtpChannel("127.0.0.1", port, starttls=False, sender=SENDER, timeout=5, **kwargs)
    return make_engine(channels={"email": channel},
                       settings={"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
                                 "retry_base_seconds": 60})


def test_reminder_arrives_as_a_multipart_email(smtp_server, make_engine, clock):
    recorder, port = smtp_server()
    engine = smtp_engine(make_engine, port)
    add_cart(engine, items=[KITE, BOARD], first_name="Ann", consent={"personalization": True})
    run_at(engine, clock, T0 + HOUR)

    (m,) = engine.messages("c1")
    assert m["status"] == "sent" and m["sent_at"] == T0 + HOUR
    (envelope,) = recorder.envelopes
    assert envelope.mail_from == "shop@kite.example"
    assert envelope.rcpt_tos == ["ann@example.com"]
    (msg,) = recorder.messages()
    assert msg["To"].addresses[0].addr_spec == "ann@example.com"
    assert msg["From"].addresses[0].addr_spec == "shop@kite.example"
    assert msg["From"].addresses[0].display_name == "Kite Shop"
    assert msg["Subject"] == m["subject"]
    assert m["message_id"] in msg["Message-ID"]
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p for p in msg.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    text = parts["text/plain"].get_content()
    html = parts["text/html"].get_content()
    assert "Kite Pro 9m" in text and "Twin-Tip Board" in text
    for shown in ("Kite Pro 9m", "Twin-Tip Board", "19.99", "249.00", "308.97",
                  'href="https://kite.example/cart/c1"'):
        assert shown in html, shown
    assert text.replace("\r\n", "\n").strip() == m["text"].strip()


def test_a_whole_sequence_over_one_server(smtp_server, make_engine, clock):
    recorder, port = smtp_server()
    engine = smtp_engine(make_engine, port)
    add_cart(engine, orders_count=1)
    first = T0 + HOUR
    for t in (first, first + 24 * HOUR, first + 72 * HOUR):
        run_at(engine, clock, t)
    subjects = [m["Subject"] for m in recorder.messages()]
    assert subjects == [m["subject"] for m in engine.messages("c1")]
    assert len(set(subjects)) == 3
    ids = [m["Message-ID"] for m in recorder.messages()]
    assert len(set(ids)) == 3


def test_auth_with_the_right_password(smtp_server, make_engine, clock):
    recorder, port = smtp_server(authenticator=authenticator, auth_require_tls=False)
    engine = smtp_engine(make_engine, port, username=USER, password=PASSWORD)
    add_cart(engine)
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "sent", m["reason"]
    assert len(recorder.envelopes) == 1


def test_auth_with_a_wrong_password_fails_without_leaking_it(smtp_server, make_engine, clock):
    recorder, port = smtp_server(authenticator=authenticator, auth_require_tls=False)
    wrong = "wr0ng-Secret-xyz"
    engine = smtp_engine(make_engine, port, username=USER, password=wrong)
    add_cart(engine)
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    # Wrong credentials are the shop's to fix: the reminder waits, the address stays good.
    assert m["status"] == "paused" and m["reason"].startswith("channel_unavailable:email: ")
    assert "535" in m["reason"]
    assert wrong not in m["reason"] and PASSWORD not in m["reason"]
    import base64
    assert base64.b64encode(wrong.encode()).decode() not in m["reason"]
    assert recorder.envelopes == []
    assert m["sent_at"] is None


def test_451_is_retried_after_the_backoff(smtp_server, make_engine, clock):
    recorder, port = smtp_server()
    recorder.replies = ["451 try later"]
    engine = smtp_engine(make_engine, port)
    add_cart(engine)
    first = T0 + HOUR
    run_at(engine, clock, first)
    (m,) = engine.messages("c1")
    assert m["status"] == "retrying"
    assert "451" in m["reason"] and "try later" in m["reason"]
    assert recorder.envelopes == [] and recorder.refusals == ["451 try later"]
    # Not before the backoff (retry_base_seconds=60)...
    run_at(engine, clock, first + timedelta(seconds=30))
    assert engine.messages("c1")[0]["status"] == "retrying"
    # ...and after it, delivered once.
    run_at(engine, clock, first + timedelta(seconds=60))
    (m,) = engine.messages("c1")
    assert m["status"] == "sent" and m["attempts"] == 2
    assert m["sent_at"] == first + timedelta(seconds=60)
    assert len(recorder.envelopes) == 1
    assert m["message_id"] in recorder.messages()[0]["Message-ID"]
    # The sequence carries on from the real send time.
    assert engine.cart("c1")["journey"]["next_due"] == first + timedelta(seconds=60) + 10 * HOUR


def test_550_fails_with_the_servers_reply(smtp_server, make_engine, clock):
    recorder, port = smtp_server()
    recorder.replies = ["550 no such user"]
    engine = smtp_engine(make_engine, port)
    add_cart(engine)
    run_at(engine, clock, T0 + HOUR)
    run_at(engine, clock, T0 + 2 * HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "failed"
    assert "550" in m["reason"] and "no such user" in m["reason"]
    assert recorder.envelopes == []
    assert engine.status()["messages_failed"] == 1


def test_unreachable_server_is_retried(make_engine, clock):
    port = free_port()  # nothing listens there
    engine = smtp_engine(make_engine, port)
    add_cart(engine)
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "retrying" and m["reason"]


def test_send_test_message(smtp_server):
    recorder, port = smtp_server()
    channel = cr.SmtpChannel("127.0.0.1", port, starttls=False, sender=SENDER, timeout=5)
    channel.send_test("ops@kite.example", subject="Hello from cartrecovery")
    (msg,) = recorder.messages()
    assert msg["Subject"] == "Hello from cartrecovery"
    assert recorder.envelopes[0].rcpt_tos == ["ops@kite.example"]


def test_send_test_message_refused_raises_delivery_error(smtp_server):
    recorder, port = smtp_server()
    recorder.replies = ["550 no such user"]
    channel = cr.SmtpChannel("127.0.0.1", port, starttls=False, sender=SENDER, timeout=5)
    with pytest.raises(cr.DeliveryError) as info:
        channel.send_test("nobody@kite.example")
    assert info.value.transient is False and "550" in str(info.value)


def test_starttls_required_but_not_offered_fails_closed(smtp_server, make_engine, clock):
    recorder, port = smtp_server()
    channel = cr.SmtpChannel("127.0.0.1", port, starttls=True, sender=SENDER, timeout=5)
    engine = make_engine(channels={"email": channel})
    add_cart(engine)
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "paused" and "STARTTLS" in m["reason"]
    assert recorder.envelopes == []
    # The shop's server, not the shopper's address: the operator is told, the reminder waits.
    assert any("wait for a channel" in p for p in engine.status()["problems"])


def test_smtp_channel_config_errors():
    with pytest.raises(cr.ConfigError):
        cr.SmtpChannel("127.0.0.1", 25, starttls=True, ssl=True)
    with pytest.raises(cr.ConfigError):
        cr.SmtpChannel("127.0.0.1", 25, sender="not a mailbox")
    with pytest.raises(cr.ConfigError):
        cr.SmtpChannel("127.0.0.1", 0)


# ---- CallbackChannel ----------------------------------------------------------------------

def test_callback_channel_receives_the_rendered_message(make_engine, clock):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    add_cart(engine, first_name="Ann", consent={"personalization": True})
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "sent"
    (d,) = got
    assert set(d) >= {"message_id", "channel", "to", "to_name", "subject", "text", "html", "headers"}
    assert d["message_id"] == m["message_id"] and d["channel"] == "email"
    assert d["to"] == "ann@example.com" and d["to_name"] == "Ann"
    assert d["subject"] == m["subject"] and d["text"] == m["text"]
    assert "Kite Pro 9m" in d["html"] and "https://kite.example/cart/c1" in d["html"]
    assert isinstance(d["headers"], list)


def test_callback_without_personalization_consent_gets_no_name(make_engine, clock):
    got = []
    engine = make_engine(channels={"email": cr.CallbackChannel(got.append)})
    add_cart(engine, first_name="Ann")
    run_at(engine, clock, T0 + HOUR)
    (d,) = got
    assert d["to_name"] == ""
    assert "Ann" not in d["text"]


def test_callback_errors_retry_or_fail(make_engine, clock):
    calls = []

    def flaky(msg):
        calls.append(msg["message_id"])
        if len(calls) == 1:
            raise ConnectionError("backend down")
        if len(calls) == 2:
            err = cr.DeliveryError("mailbox does not exist")
            err.transient = False
            raise err

    engine = make_engine(channels={"email": cr.CallbackChannel(flaky)},
                         settings={"shop_name": "Kite Shop", "retry_base_seconds": 60})
    add_cart(engine)
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "retrying" and "backend down" in m["reason"]
    run_at(engine, clock, T0 + HOUR + timedelta(minutes=1))
    (m,) = engine.messages("c1")
    assert m["status"] == "failed" and "mailbox does not exist" in m["reason"]
    assert len(calls) == 2


def test_callback_channel_needs_a_callable():
    with pytest.raises(TypeError):
        cr.CallbackChannel("not callable")
