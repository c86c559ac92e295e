"""Issue 3, end to end: messages that reach people on every channel, under every policy,
with signed tracking links.

Every provider is a real server started here on 127.0.0.1 (http.server for SMS, webhooks
and push; aiosmtpd for e-mail, with STARTTLS and AUTH); nothing is mocked. Signatures, Web
Push encryption and VAPID tokens are checked with independent code (hmac/hashlib, the
`cryptography` and `http_ece` packages), not with the engine's own helpers alone.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import re
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import http_ece
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

import cartrecovery as cr
from conftest import DAY, HOUR, KITE, SETTINGS, T0, UTC, add_cart, run_at, sent

PHONE = "+33612345678"
SECRET = "kite-link-secret-0123456789abcdef"  # >= 16 bytes: signs tracking links
HOOK_SECRET = "whsec-kite-0123456789abcdef"
SMS_PASSWORD = "sms-Pa55word-never-shown"
SMTP_USER, SMTP_PASSWORD = "shop", "smtp-Pa55word-never-shown"
SENDER = "Kite Shop <shop@kite.example>"
KITE_URL = "https://kite.example/p/kite-pro-9m"
LINK_RE = re.compile(r"https://kite\.example/cr/([ocru])/([A-Za-z0-9_-]+)(\.gif)?")


def one_step(*channels: str, then: list | None = None, name: str = "msgs") -> dict:
    """A flow without frequency cap: step 1 one hour after the cart goes quiet on `channels`,
    then the steps in `then` ((after, channels) pairs)."""
    steps = [{"after": "1h", "channels": list(channels)}]
    steps += [{"after": after, "channels": list(chs)} for after, chs in (then or [])]
    return {"name": name, "abandon_after": "1h", "paths": [{"name": "visitor", "steps": steps}]}


def settings(**extra) -> dict:
    return {**SETTINGS, **extra}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


# ---- a real HTTP server -------------------------------------------------------------------

@dataclass
class Request:
    method: str
    path: str
    headers: dict  # lower-case names
    body: bytes


class HttpServer:
    """Records every request; answers from `script` (oldest first), then 200 {"ok": true}.
    A script entry is (status, headers, body), "slow" (answer only after the test ends) or
    "drop" (close the connection without a word)."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.scheme = "https" if tls else "http"
        self.requests: list[Request] = []
        self.script: list = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with server.lock:
                    server.requests.append(Request(
                        self.command, self.path,
                        {k.lower(): v for k, v in self.headers.items()}, body))
                    action = server.script.pop(0) if server.script else (200, {}, b'{"ok": true}')
                if action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if action == "slow":
                    server.release.wait(10)  # bounded; released at teardown
                    action = (200, {}, b"{}")
                status, headers, payload = action
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    self.close_connection = True

            do_POST = do_PUT = do_GET = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        if tls:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def http_server():
    servers: list[HttpServer] = []

    def start(tls: ssl.SSLContext | None = None) -> HttpServer:
        servers.append(HttpServer(tls))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


# ---- a real SMTP server -------------------------------------------------------------------

def smtp_authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@dataclass
class Tls:
    context: ssl.SSLContext  # for servers
    cert_file: str           # the self-signed certificate, for clients that should trust it


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> Tls:
    """A server TLS context with a self-signed certificate for 127.0.0.1, made here."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return Tls(ctx, str(d / "cert.pem"))


def html_part(msg) -> str:
    return next(p for p in msg.iter_parts() if p.get_content_type() == "text/html").get_content()


def tokens(html: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"o": [], "c": [], "r": [], "u": []}
    for kind, token, gif in LINK_RE.findall(html):
        assert (kind == "o") == bool(gif), (kind, gif)
        if token not in out[kind]:
            out[kind].append(token)
    return out


def tamper(token: str) -> str:
    i = len(token) // 2  # a middle character: all six bits count
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


# ==== SMS =================================================================================

def sms_engine(make_engine, channel, flow=None, **extra):
    return make_engine(flows=[flow or one_step("sms")], channels={"sms": channel},
                       settings=settings(retry_base_seconds=10, **extra))


def test_sms_json_provider_gets_to_from_text_and_idempotency_key(http_server, make_engine, clock):
    srv = http_server()
    channel = cr.SmsChannel(srv.url("/v1/messages"), sender="KiteShop", body_format="json",
                            auth="basic", username="acct-1", password=SMS_PASSWORD, timeout=5)
    engine = sms_engine(make_engine, channel)
    add_cart(engine, phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + HOUR)

    (m,) = engine.messages("c1")
    assert (m["channel"], m["status"], m["to"], m["sent_at"]) == ("sms", "sent", PHONE, T0 + HOUR)
    (req,) = srv.requests
    assert req.method == "POST" and req.path == "/v1/messages"
    assert req.headers["content-type"].startswith("application/json")
    assert req.headers["idempotency-key"] == m["message_id"]
    assert req.headers["authorization"] == "Basic " + base64.b64encode(
        f"acct-1:{SMS_PASSWORD}".encode()).decode()
    body = json.loads(req.body)
    assert body == {"to": PHONE, "from": "KiteShop", "text": m["text"]}
    assert "https://kite.example/cart/c1" in body["text"]  # the cart link (no secret: restore_url)
    assert cr.sms_info(body["text"])["segments"] <= 2


def test_sms_form_provider_with_signed_cart_link(http_server, make_engine, clock):
    srv = http_server()
    channel = cr.SmsChannel(srv.url("/send"), sender="+15550001111", timeout=5)
    engine = sms_engine(make_engine, channel, secret=SECRET)
    add_cart(engine, phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + HOUR)
    (m,) = sent(engine, "c1")
    (req,) = srv.requests
    assert req.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = {k: v[0] for k, v in parse_qs(req.body.decode(), strict_parsing=True).items()}
    assert form == {"to": PHONE, "from": "+15550001111", "text": m["text"]}
    (restore,) = re.findall(r"https://kite\.example/cr/r/([A-Za-z0-9_-]+)", form["text"])
    clock.advance(HOUR)
    answer = engine.handle_link(f"r/{restore}")
    assert answer["status"] == 200 and answer["cart"]["items"][0]["sku"] == "KITE-1"


def test_twilio_preset_sends_form_fields_with_basic_auth(http_server, make_engine, clock):
    srv = http_server()
    srv.script = [(201, {}, b'{"sid": "SM123", "status": "queued"}')]
    channel = cr.SmsChannel.twilio("AC0123", "twilio-auth-token", "+15005550006",
                                   base_url=srv.url("").rstrip("/"), timeout=5)
    engine = sms_engine(make_engine, channel)
    add_cart(engine, phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + HOUR)
    (m,) = sent(engine, "c1")
    (req,) = srv.requests
    assert req.method == "POST" and req.path == "/2010-04-01/Accounts/AC0123/Messages.json"
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"AC0123:twilio-auth-token").decode()
    assert req.headers["i-twilio-idempotency-token"] == m["message_id"]
    form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
    assert form == {"To": PHONE, "From": "+15005550006", "Body": m["text"]}


def test_sms_503_with_retry_after_is_retried_not_before(http_server, make_engine, clock):
    srv = http_server()
    srv.script = [(503, {"Retry-After": "120"}, b'{"error": "busy"}')]
    channel = cr.SmsChannel(srv.url("/sms"), sender="Kite", timeout=5)
    engine = sms_engine(make_engine, channel)
    add_cart(engine, phone=PHONE, consent={"sms": True})
    first = T0 + HOUR
    run_at(engine, clock, first)
    (m,) = engine.messages("c1")
    assert m["status"] == "retrying" and "503" in m["reason"]
    assert m["due_at"] >= first + timedelta(seconds=120)
    due = m["due_at"]
    run_at(engine, clock, due - timedelta(seconds=1))
    assert engine.messages("c1")[0]["status"] == "retrying" and len(srv.requests) == 1
    run_at(engine, clock, due)
    (m,) = engine.messages("c1")
    assert m["status"] == "sent" and m["sent_at"] == due and m["attempts"] == 2
    assert [r.headers["idempotency-key"] for r in srv.requests] == [m["message_id"]] * 2


def test_sms_400_fails_and_the_phone_is_suppressed_later(http_server, make_engine, clock):
    srv = http_server()
    srv.script = [(400, {}, b'{"error": "invalid destination number 21211"}')]
    channel = cr.SmsChannel(srv.url("/sms"), sender="Kite", auth="basic", username="u",
                            password=SMS_PASSWORD, timeout=5)
    engine = sms_engine(make_engine, channel)
    add_cart(engine, phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "failed"
    assert "400" in m["reason"] and "invalid destination number 21211" in m["reason"]
    assert SMS_PASSWORD not in m["reason"]
    # A later journey of the same person does not try the refused number again.
    clock.set(T0 + 2 * DAY)
    add_cart(engine, "c2", phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + 2 * DAY + HOUR)
    (m2,) = engine.messages("c2")
    assert (m2["status"], m2["reason"]) == ("suppressed", "bounced")
    assert len(srv.requests) == 1


def test_sms_credit_gone_pauses_the_step_and_suppresses_nobody(http_server, make_engine, clock):
    # R4.3: "if SMS credit is gone, the scenario pauses and says why" — the provider's 402 is
    # the shop's problem, not the shopper's: nothing is marked bounced, and the hourly retry
    # goes through once the credit is back.
    srv = http_server()
    srv.script = [(402, {}, b'{"message": "Insufficient balance"}')] * 2
    channel = cr.SmsChannel(srv.url("/sms"), sender="Kite", timeout=5)
    engine = sms_engine(make_engine, channel)
    add_cart(engine, phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "paused" and m["reason"].startswith("channel_unavailable:sms: 402")
    assert "Insufficient balance" in m["reason"] and m["due_at"] == T0 + 2 * HOUR
    [flow] = engine.flows()
    assert flow["status"] == "paused" and flow["paused"][0]["messages"] == 1
    assert any("wait for a channel" in p for p in engine.status()["problems"])
    run_at(engine, clock, T0 + 2 * HOUR)  # still out of credit
    assert engine.messages("c1")[0]["status"] == "paused"
    run_at(engine, clock, T0 + 3 * HOUR)  # topped up
    (m,) = engine.messages("c1")
    assert (m["status"], m["sent_at"]) == ("sent", T0 + 3 * HOUR) and len(srv.requests) == 3
    # The number was never suppressed: the next journey writes to it.
    clock.set(T0 + 2 * DAY)
    add_cart(engine, "c2", phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + 2 * DAY + HOUR)
    assert engine.messages("c2")[0]["status"] == "sent"


@pytest.mark.parametrize("action, words", [("slow", "timed out"), ("drop", "connection")])
def test_sms_slow_or_dropped_answer_is_retried(http_server, make_engine, clock, action, words):
    srv = http_server()
    srv.script = [action]
    channel = cr.SmsChannel(srv.url("/sms"), sender="Kite", auth="basic", username="u",
                            password=SMS_PASSWORD, timeout=0.3)
    engine = sms_engine(make_engine, channel)
    add_cart(engine, phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "retrying", m
    assert words in m["reason"].lower() and SMS_PASSWORD not in m["reason"]
    run_at(engine, clock, m["due_at"])
    assert engine.messages("c1")[0]["status"] == "sent"


def test_sms_without_consent_is_suppressed(http_server, make_engine, clock):
    srv = http_server()
    engine = sms_engine(make_engine, cr.SmsChannel(srv.url("/sms"), sender="Kite", timeout=5))
    add_cart(engine, phone=PHONE)  # no consent={"sms": True}
    add_cart(engine, "c2", email="bob@example.com", phone="+33612345679", consent={"sms": False})
    run_at(engine, clock, T0 + HOUR)
    for cart in ("c1", "c2"):
        (m,) = engine.messages(cart)
        assert (m["status"], m["reason"]) == ("suppressed", "no_consent")
    assert srv.requests == []


@pytest.mark.parametrize("text, encoding, units, segments", [
    ("a" * 160, "gsm7", 160, 1),
    ("a" * 161, "gsm7", 161, 2),
    ("a" * 306, "gsm7", 306, 2),
    ("a" * 307, "gsm7", 307, 3),
    ("Ç" * 160, "gsm7", 160, 1),   # upper-case C-cedilla is GSM-7
    ("ç", "ucs2", 1, 1),           # lower-case is not (R3.3's example)
    ("ç" + "a" * 69, "ucs2", 70, 1),
    ("ç" + "a" * 70, "ucs2", 71, 2),
    ("ñ" * 160, "gsm7", 160, 1),   # n-tilde is in the basic table
    ("ä" * 161, "gsm7", 161, 2),
    ("€", "gsm7", 2, 1),           # extension table: two septets
    ("😀", "ucs2", 2, 1),          # beyond U+FFFF: a surrogate pair
    ("a" * 69 + "😀", "ucs2", 71, 2),
    ("", "gsm7", 0, 0),
])
def test_sms_info_table(text, encoding, units, segments):
    info = cr.sms_info(text)
    assert (info["encoding"], info["units"], info["segments"]) == (encoding, units, segments)


# ==== Policies: quiet hours, caps, ceiling ===============================================

def test_quiet_hours_defer_sms_to_9_paris_and_email_goes_at_once(http_server, make_engine, clock):
    srv = http_server()
    flow = one_step("email", "sms", then=[("24h", ["email"])])
    engine = make_engine(flows=[flow],
                         channels={"email": cr.OutboxChannel(),
                                   "sms": cr.SmsChannel(srv.url("/sms"), sender="Kite", timeout=5)},
                         settings=settings(timezone="Europe/Paris"))
    left = at("2026-03-02T20:30:00+01:00")        # Monday 20:30 in Paris (UTC+1 in March)
    clock.set(left)
    add_cart(engine, phone=PHONE, consent={"sms": True})
    due = left + HOUR                              # 21:30 Paris: quiet for SMS
    run_at(engine, clock, due)
    by = {m["channel"]: m for m in engine.messages("c1")}
    assert by["email"]["status"] == "sent" and by["email"]["sent_at"] == due
    assert (by["sms"]["status"], by["sms"]["reason"]) == ("deferred", "quiet_hours")
    nine = at("2026-03-03T09:00:00+01:00")
    assert by["sms"]["due_at"] == nine
    run_at(engine, clock, nine - timedelta(minutes=1))
    assert srv.requests == []
    assert {m["channel"]: m["status"] for m in engine.messages("c1")}["sms"] == "deferred"
    run_at(engine, clock, nine)
    by = {m["channel"]: m for m in engine.messages("c1") if m["step"] == 1}
    assert by["sms"]["status"] == "sent" and by["sms"]["sent_at"] == nine
    assert len(srv.requests) == 1
    # The next step counts from the step's first send (the e-mail), not from the SMS.
    assert engine.cart("c1")["journey"]["next_due"] == due + 24 * HOUR
    run_at(engine, clock, due + 24 * HOUR)
    assert [(m["step"], m["channel"]) for m in sent(engine, "c1")][-1] == (2, "email")


def test_quiet_hours_in_the_contacts_own_time_zone(make_engine, clock):
    engine = make_engine(flows=[one_step("sms")], channels={"sms": cr.OutboxChannel()},
                         settings=settings(timezone="Europe/Paris"))
    clock.set(at("2026-03-02T12:00:00+00:00"))
    add_cart(engine, "ny", email="nia@example.com", phone="+12125550100", consent={"sms": True},
             timezone="America/New_York")
    add_cart(engine, "paris", email="pia@example.com", phone=PHONE, consent={"sms": True})
    due = at("2026-03-02T13:00:00+00:00")  # 14:00 in Paris, 08:00 in New York
    run_at(engine, clock, due)
    (paris,) = engine.messages("paris")
    assert paris["status"] == "sent"
    (ny,) = engine.messages("ny")
    assert (ny["status"], ny["reason"]) == ("deferred", "quiet_hours")
    assert ny["due_at"] == at("2026-03-02T09:00:00-05:00")
    run_at(engine, clock, ny["due_at"])
    assert engine.messages("ny")[0]["status"] == "sent"


QUIET_WEEK = {"quiet_hours": {"sms": {"from": "20:00", "until": "09:00", "days": ["sun"],
                                      "holidays": "FR"}},
              "timezone": "Europe/Paris"}


@pytest.mark.parametrize("due, allowed", [
    # Saturday 21:00 Paris (19:00 UTC): the night, then a quiet Sunday -> Monday 09:00.
    ("2026-07-11T19:00:00+00:00", "2026-07-13T09:00:00+02:00"),
    # Monday night before Bastille Day (Tuesday 14 July): -> Wednesday 09:00.
    ("2026-07-13T19:00:00+00:00", "2026-07-15T09:00:00+02:00"),
    # Saturday 19:00 Paris is outside the window: sent at once.
    ("2026-07-11T19:00:00+02:00", "2026-07-11T19:00:00+02:00"),
    # Sunday noon: a quiet day all day.
    ("2026-07-12T12:00:00+02:00", "2026-07-13T09:00:00+02:00"),
])
def test_quiet_days_and_french_holidays(make_engine, clock, due, allowed):
    engine = make_engine(flows=[one_step("sms")], channels={"sms": cr.OutboxChannel()},
                         settings=settings(policies=QUIET_WEEK))
    due, allowed = at(due), at(allowed)
    clock.set(due - HOUR)
    add_cart(engine, phone=PHONE, consent={"sms": True})
    run_at(engine, clock, due)
    (m,) = engine.messages("c1")
    if allowed == due:
        assert m["status"] == "sent"
        return
    assert m["status"] == "deferred" and m["reason"] in ("quiet_hours", "quiet_day")
    assert m["due_at"] == allowed
    run_at(engine, clock, allowed - timedelta(minutes=1))
    assert engine.messages("c1")[0]["status"] == "deferred"
    run_at(engine, clock, allowed)
    (m,) = engine.messages("c1")
    assert m["status"] == "sent" and m["sent_at"] == allowed


def test_channel_cap_skips_a_second_journeys_email(make_engine, clock):
    engine = make_engine(flows=[one_step("email")], settings=settings(
        policies={"channel_caps": {"email": {"every": "2d", "action": "skip"}}}))
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    clock.set(T0 + 5 * HOUR)
    add_cart(engine, "c2")  # same person, second journey, within two days
    run_at(engine, clock, T0 + 6 * HOUR)
    clock.set(T0 + 3 * DAY)
    add_cart(engine, "c3")  # after the gap
    run_at(engine, clock, T0 + 3 * DAY + HOUR)
    assert engine.messages("c1")[0]["status"] == "sent"
    (m2,) = engine.messages("c2")
    assert (m2["status"], m2["reason"]) == ("suppressed", "channel_cap")
    assert engine.messages("c3")[0]["status"] == "sent"


def test_channel_cap_can_defer_instead(make_engine, clock):
    engine = make_engine(flows=[one_step("email")], settings=settings(
        policies={"channel_caps": {"email": {"every": "2d", "action": "defer"}}}))
    add_cart(engine, "c1")
    run_at(engine, clock, T0 + HOUR)
    clock.set(T0 + 5 * HOUR)
    add_cart(engine, "c2")
    run_at(engine, clock, T0 + 6 * HOUR)
    (m2,) = engine.messages("c2")
    assert (m2["status"], m2["reason"]) == ("deferred", "channel_cap")
    assert m2["due_at"] == T0 + HOUR + 2 * DAY
    run_at(engine, clock, m2["due_at"])
    assert engine.messages("c2")[0]["status"] == "sent"


def test_daily_ceiling_counts_every_contact_channel(make_engine, clock):
    engine = make_engine(flows=[one_step("email", "sms")],
                         channels={"email": cr.OutboxChannel(), "sms": cr.OutboxChannel()},
                         settings=settings(policies={"daily_ceiling": {"max": 1, "action": "skip"}}))
    add_cart(engine, phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + HOUR)
    by = {m["channel"]: m for m in engine.messages("c1")}
    assert by["email"]["status"] == "sent"
    assert (by["sms"]["status"], by["sms"]["reason"]) == ("suppressed", "daily_ceiling")


# ==== Webhooks ===========================================================================

def own_signature_check(secret: str, header: str, body: bytes) -> int:
    """Independent Stripe-style check; returns t when v1 matches, else raises."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    t = parts["t"]
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["v1"]):
        raise AssertionError("bad signature")
    return int(t)


def test_webhook_step_posts_the_signed_abandoned_cart(http_server, make_engine, clock):
    srv = http_server()
    engine = make_engine(
        flows=[one_step("email", "crm")],
        channels={"email": cr.OutboxChannel(),
                  "crm": cr.WebhookChannel(srv.url("/hooks/cart"), HOOK_SECRET, timeout=5)},
        settings=settings(secret=SECRET))
    add_cart(engine, items=[KITE, {"sku": "B", "name": "Bar", "price": "249.00", "quantity": 1}])
    run_at(engine, clock, T0 + HOUR)
    by = {m["channel"]: m for m in engine.messages("c1")}
    assert by["crm"]["status"] == "sent" and by["email"]["status"] == "sent"
    (req,) = srv.requests
    assert req.method == "POST" and req.path == "/hooks/cart"
    assert req.headers["content-type"].startswith("application/json")
    assert req.headers["idempotency-key"] == by["crm"]["message_id"]
    payload = json.loads(req.body)
    assert payload["event"] == "cart_abandoned"
    assert req.headers["x-cartrecovery-event"] == payload["event"]
    cart = payload["cart"]
    assert cart["value"] == "308.97" and cart["currency"] == "EUR"  # text, exact
    assert [(i["sku"], i["price"], i["quantity"]) for i in cart["items"]] == [
        ("KITE-1", "19.99", 3), ("B", "249.00", 1)]
    assert cart["cart_url"].startswith("https://kite.example/cr/r/")
    assert payload["contact"]["email"] == "ann@example.com"

    header = req.headers["x-cartrecovery-signature"]
    t = own_signature_check(HOOK_SECRET, header, req.body)
    assert t == int((T0 + HOUR).timestamp())
    assert cr.verify_webhook_signature(HOOK_SECRET, header, req.body, now=t + 10)
    altered = req.body.replace(b"308.97", b"308.98")
    assert altered != req.body
    with pytest.raises(AssertionError):
        own_signature_check(HOOK_SECRET, header, altered)
    assert not cr.verify_webhook_signature(HOOK_SECRET, header, altered, now=t)
    assert not cr.verify_webhook_signature("another-secret-0123456789", header, req.body, now=t)
    assert not cr.verify_webhook_signature(HOOK_SECRET, header, req.body, now=t + 3600)  # replay


def test_sales_alert_posts_to_a_webhook(http_server, make_engine, clock):
    srv = http_server()
    engine = make_engine(
        channels={"email": cr.OutboxChannel(),
                  "crm": cr.WebhookChannel(srv.url("/hooks/sales"), HOOK_SECRET, timeout=5)},
        settings=settings(sales_alert={"min_value": "50", "channels": ["crm"]}))
    add_cart(engine, phone=PHONE, first_name="Ann")
    run_at(engine, clock, T0 + HOUR)
    (req,) = srv.requests
    payload = json.loads(req.body)
    assert payload["event"] == "sales_alert"
    assert req.headers["x-cartrecovery-event"] == "sales_alert"
    assert payload["cart"]["value"] == "59.97"
    assert payload["contact"]["email"] == "ann@example.com" and payload["contact"]["phone"] == PHONE
    t = own_signature_check(HOOK_SECRET, req.headers["x-cartrecovery-signature"], req.body)
    assert cr.verify_webhook_signature(HOOK_SECRET, req.headers["x-cartrecovery-signature"],
                                       req.body, now=t)
    alert = [m for m in engine.messages("c1") if m["flow"] == "sales_alert"]
    assert [(m["channel"], m["status"]) for m in alert] == [("crm", "sent")]


# ==== Browser push =======================================================================

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_push_is_encrypted_for_the_browser_and_signed_with_vapid(http_server, make_engine, clock,
                                                                 tls):
    # The push service: HTTPS on 127.0.0.1 with the test's own certificate, trusted through
    # ca_file (verification stays on).
    srv = http_server(tls.context)
    browser_key = ec.generate_private_key(ec.SECP256R1())
    p256dh = b64url(browser_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    auth = os.urandom(16)
    vapid_private, vapid_public = cr.generate_vapid_keys()
    assert cr.vapid_public_key(vapid_private) == vapid_public
    srv.script = [(201, {}, b""), (410, {}, b"push subscription has unsubscribed or expired")]
    engine = make_engine(
        flows=[one_step("push", then=[("1d", ["push"]), ("1d", ["push"])])],
        channels={"push": cr.PushChannel(vapid_private_key=vapid_private,
                                         vapid_subject="mailto:shop@example.com", timeout=5,
                                         ca_file=tls.cert_file)},
        settings=settings(secret=SECRET))
    add_cart(engine, consent={"push": True})
    engine.track("push_subscribed", cart_id="c1", subscription={
        "endpoint": srv.url("/push/abc"), "keys": {"p256dh": p256dh, "auth": b64url(auth)}})
    run_at(engine, clock, T0 + HOUR)

    (m,) = engine.messages("c1")
    assert m["status"] == "sent", m
    (req,) = srv.requests
    assert req.method == "POST" and req.path == "/push/abc"
    assert req.headers["content-encoding"] == "aes128gcm"
    assert int(req.headers["ttl"]) > 0
    plain = http_ece.decrypt(req.body, private_key=browser_key, auth_secret=auth, version="aes128gcm")
    note = json.loads(plain)
    assert note["tag"] == m["message_id"]
    assert note["title"] == "Kite Shop" and note["body"] == m["text"]
    assert "https://kite.example/cr/r/" in note["body"]
    assert note["data"]["event"] == "cart_abandoned"
    assert note["data"]["cart"]["items"][0]["sku"] == "KITE-1"

    # VAPID (RFC 8292): "vapid t=<JWT>, k=<public key>", ES256 checked with cryptography.
    scheme, _, params = req.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    assert fields["k"] == vapid_public
    head, claims, sig = fields["t"].split(".")
    assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
    claims_d = json.loads(unb64url(claims))
    assert claims_d["aud"] == f"https://127.0.0.1:{srv.port}"
    assert claims_d["sub"] == "mailto:shop@example.com"
    assert claims_d["exp"] > dt.datetime.now(UTC).timestamp()  # VAPID uses real time
    raw = unb64url(sig)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    signer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
    signer.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        signer.verify(der, f"{head}.{claims}x".encode(), ec.ECDSA(hashes.SHA256()))

    # 410 Gone: the message fails and the subscription is dropped.
    run_at(engine, clock, T0 + HOUR + DAY)
    m2 = engine.messages("c1")[1]
    assert m2["status"] == "failed" and "410" in m2["reason"]
    run_at(engine, clock, T0 + HOUR + 2 * DAY)
    m3 = engine.messages("c1")[2]
    assert (m3["status"], m3["reason"]) == ("suppressed", "no_address")
    assert len(srv.requests) == 2


def test_push_subscription_must_be_https(make_engine):
    engine = make_engine()
    add_cart(engine)
    keys = {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(b"\x02" * 16)}
    with pytest.raises(cr.ValidationError) as e:
        engine.track("push_subscribed", cart_id="c1",
                     subscription={"endpoint": "http://push.example/abc", "keys": keys})
    assert e.value.field == "subscription.endpoint"


# ==== Tracking links =====================================================================

def linked_engine(make_engine, smtp_server, flow=None, channels=None, **extra):
    box, port = smtp_server()
    email_channel = cr.SmtpChannel("127.0.0.1", port, starttls=False, sender=SENDER, timeout=5)
    engine = make_engine(flows=[flow] if flow else None,
                         channels={"email": email_channel, **(channels or {})},
                         settings=settings(secret=SECRET, **extra))
    return engine, box


def first_mail(engine, box, clock):
    add_cart(engine, items=[dict(KITE, url=KITE_URL)], phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + HOUR)
    (msg,) = box.messages()
    return msg, tokens(html_part(msg))


def test_sent_email_carries_signed_links_and_unsubscribe_headers(make_engine, smtp_server, clock):
    engine, box = linked_engine(make_engine, smtp_server)
    msg, tok = first_mail(engine, box, clock)
    assert len(tok["o"]) == 1 and len(tok["r"]) == 1 and len(tok["u"]) == 1
    assert len(tok["c"]) >= 1  # the product link, wrapped
    html = html_part(msg)
    assert KITE_URL not in html  # only reachable through the signed click link
    assert f'https://kite.example/cr/o/{tok["o"][0]}.gif' in html
    assert msg["List-Unsubscribe"] == f'<https://kite.example/cr/u/{tok["u"][0]}>'
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = next(p for p in msg.iter_parts() if p.get_content_type() == "text/plain").get_content()
    assert f'https://kite.example/cr/r/{tok["r"][0]}' in text
    assert f'https://kite.example/cr/u/{tok["u"][0]}' in text


def test_open_pixel_switches_reminder_2_to_opened(make_engine, smtp_server, clock):
    engine, box = linked_engine(make_engine, smtp_server)
    _, tok = first_mail(engine, box, clock)
    assert engine.cart("c1")["journey"]["next_due"] == T0 + HOUR + 10 * HOUR  # not opened
    clock.set(T0 + 3 * HOUR)
    r = engine.handle_link(f'o/{tok["o"][0]}.gif')
    assert r["status"] == 200 and r["content_type"] == "image/gif"
    assert r["body"].startswith(b"GIF89a")
    journey = engine.cart("c1")["journey"]
    assert journey["branch"] == "opened" and journey["next_due"] == T0 + HOUR + 6 * HOUR
    assert engine.messages("c1")[0]["opened_at"] == T0 + 3 * HOUR
    run_at(engine, clock, T0 + 7 * HOUR)
    m2 = engine.messages("c1")[1]
    assert (m2["step"], m2["branch"], m2["status"]) == (2, "opened", "sent")


def test_click_redirects_and_switches_to_clicked(make_engine, smtp_server, clock):
    engine, box = linked_engine(make_engine, smtp_server)
    _, tok = first_mail(engine, box, clock)
    clock.set(T0 + 2 * HOUR)
    (click,) = tok["c"]  # the product link
    r = engine.handle_link(f"c/{click}")
    assert r["status"] == 302 and dict(r["headers"])["Location"] == KITE_URL
    assert engine.messages("c1")[0]["clicked_at"] == T0 + 2 * HOUR
    journey = engine.cart("c1")["journey"]
    assert journey["branch"] == "clicked" and journey["next_due"] == T0 + HOUR + 8 * HOUR
    run_at(engine, clock, T0 + 9 * HOUR)
    assert engine.messages("c1")[1]["branch"] == "clicked"


def test_bad_tokens_never_redirect(make_engine, smtp_server, clock):
    engine, box = linked_engine(make_engine, smtp_server, link_ttl_seconds=86400)
    _, tok = first_mail(engine, box, clock)
    click = tok["c"][0]
    bad = engine.handle_link(f"c/{tamper(click)}")
    assert bad["status"] == 400 and "Location" not in dict(bad["headers"])
    assert engine.handle_link(f'r/{tamper(tok["r"][0])}')["status"] == 400
    # A click token where a restore or unsubscribe token belongs: refused.
    assert engine.handle_link(f"r/{click}")["status"] == 400
    assert engine.handle_link(f"u/{click}", method="POST")["status"] == 400
    # The pixel answers the GIF whatever it gets, but counts nothing for a foreign token.
    pixel = engine.handle_link(f"o/{click}.gif")
    assert pixel["status"] == 200 and pixel["content_type"] == "image/gif"
    for path in ("x/abc", "c/", "c/abc/def", f"c/{click}.gif", "o/abc", "", "../etc/passwd"):
        answer = engine.handle_link(path)
        assert answer["status"] == 404, path
        assert "Location" not in dict(answer["headers"])
    (m,) = engine.messages("c1")
    assert m["opened_at"] is None and m["clicked_at"] is None
    assert engine.cart("c1")["journey"]["branch"] == "unopened"
    # Expired: past link_ttl_seconds.
    clock.set(T0 + HOUR + DAY + timedelta(seconds=1))
    expired = engine.handle_link(f"c/{click}")
    assert expired["status"] == 410 and "Location" not in dict(expired["headers"])
    assert engine.handle_link(f'r/{tok["r"][0]}')["status"] == 410


def test_restore_link_gives_the_cart_without_any_login(make_engine, smtp_server, clock):
    engine, box = linked_engine(make_engine, smtp_server)
    _, tok = first_mail(engine, box, clock)
    r = engine.handle_link(f'r/{tok["r"][0]}')
    assert r["status"] == 200 and r["kind"] == "restore"
    assert r["cart"]["cart_id"] == "c1"
    assert [(i["sku"], i["quantity"]) for i in r["cart"]["items"]] == [("KITE-1", 3)]
    names = {k.lower() for k in r["headers"]}
    assert "set-cookie" not in names and "location" not in names
    assert set(r) & {"user", "session", "login", "contact", "email"} == set()
    assert b"ann@example.com" not in r["body"]


def test_unsubscribe_get_asks_post_unsubscribes_email_and_sms(make_engine, smtp_server, clock):
    engine, box = linked_engine(make_engine, smtp_server, flow=one_step("email", "sms"),
                                channels={"sms": cr.OutboxChannel()})
    _, tok = first_mail(engine, box, clock)
    assert {m["channel"]: m["status"] for m in engine.messages("c1")} == {"email": "sent",
                                                                           "sms": "sent"}
    page = engine.handle_link(f'u/{tok["u"][0]}')
    assert page["status"] == 200 and page["content_type"].startswith("text/html")
    body = page["body"].decode()
    assert "<form" in body and 'method="post"' in body.lower()
    # The GET changed nothing: a mail scanner following the link unsubscribes nobody.
    clock.set(T0 + 3 * DAY)
    add_cart(engine, "c2", phone=PHONE)
    run_at(engine, clock, T0 + 3 * DAY + HOUR)
    assert {m["channel"]: m["status"] for m in engine.messages("c2")} == {"email": "sent",
                                                                           "sms": "sent"}
    # One click on POST (RFC 8058): unsubscribed from e-mail and SMS alike (R3.4).
    done = engine.handle_link(f'u/{tok["u"][0]}', method="POST")
    assert done["status"] == 200 and done["kind"] == "unsubscribe"
    clock.set(T0 + 6 * DAY)
    add_cart(engine, "c3", phone=PHONE)
    run_at(engine, clock, T0 + 6 * DAY + HOUR)
    later = {m["channel"]: m for m in engine.messages("c3")}
    assert (later["email"]["status"], later["email"]["reason"]) == ("suppressed", "unsubscribed")
    assert (later["sms"]["status"], later["sms"]["reason"]) == ("suppressed", "unsubscribed")
    assert len(box.envelopes) == 2


def test_unsubscribe_get_alone_keeps_the_sequence_going(make_engine, smtp_server, clock):
    engine, box = linked_engine(make_engine, smtp_server)
    _, tok = first_mail(engine, box, clock)
    engine.handle_link(f'u/{tok["u"][0]}')
    run_at(engine, clock, T0 + 11 * HOUR)
    assert [m["status"] for m in engine.messages("c1")] == ["sent", "sent"]
    assert len(box.envelopes) == 2


# ==== SMTP with STARTTLS and AUTH ========================================================

def tls_smtp(smtp_server, tls):
    return smtp_server(tls_context=tls.context, require_starttls=True, auth_required=True,
                       authenticator=smtp_authenticator)


def test_starttls_and_auth_deliver(make_engine, smtp_server, tls, clock):
    box, port = tls_smtp(smtp_server, tls)
    channel = cr.SmtpChannel("127.0.0.1", port, starttls=True, verify_certificate=False,
                             username=SMTP_USER, password=SMTP_PASSWORD, sender=SENDER, timeout=5)
    engine = make_engine(channels={"email": channel}, settings=settings(secret=SECRET))
    add_cart(engine, first_name="Ann", consent={"personalization": True})
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "sent", m["reason"]
    (msg,) = box.messages()
    assert msg["To"].addresses[0].display_name == "Ann"
    assert msg["List-Unsubscribe"].startswith("<https://kite.example/cr/u/")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_unverifiable_certificate_fails_closed_without_leaking(make_engine, smtp_server,
                                                               tls, clock):
    box, port = tls_smtp(smtp_server, tls)
    channel = cr.SmtpChannel("127.0.0.1", port, starttls=True, verify_certificate=True,
                             username=SMTP_USER, password=SMTP_PASSWORD, sender=SENDER, timeout=5)
    engine = make_engine(channels={"email": channel})
    add_cart(engine)
    run_at(engine, clock, T0 + HOUR)
    (m,) = engine.messages("c1")
    assert m["status"] == "paused" and m["reason"].startswith("channel_unavailable:email: ")
    assert SMTP_PASSWORD not in m["reason"]
    assert base64.b64encode(SMTP_PASSWORD.encode()).decode() not in m["reason"]
    assert box.envelopes == []
    # A wrong password is refused too, and not echoed either.
    wrong = "wr0ng-Pa55word-xyz"
    channel2 = cr.SmtpChannel("127.0.0.1", port, starttls=True, verify_certificate=False,
                              username=SMTP_USER, password=wrong, sender=SENDER, timeout=5)
    with pytest.raises(cr.DeliveryError) as e:
        channel2.send_test("ops@kite.example")
    assert wrong not in str(e.value) and SMTP_PASSWORD not in str(e.value)
    assert box.envelopes == []


def test_send_test_through_starttls_and_auth(smtp_server, tls):
    box, port = tls_smtp(smtp_server, tls)
    channel = cr.SmtpChannel("127.0.0.1", port, starttls=True, verify_certificate=False,
                             username=SMTP_USER, password=SMTP_PASSWORD, sender=SENDER, timeout=5)
    channel.send_test("ops@kite.example", subject="Going live", text="Test from cartrecovery")
    (msg,) = box.messages()
    assert msg["Subject"] == "Going live"
    assert "Test from cartrecovery" in msg.get_body(("plain",)).get_content()
    assert box.envelopes[0].rcpt_tos == ["ops@kite.example"]


# ==== Languages, shop templates, personalization =========================================

EN_SUBJECT = "Need a hand with your order?"
DE_SUBJECT = "Brauchen Sie Hilfe bei Ihrer Bestellung?"
PL_SUBJECT = "Potrzebujesz pomocy z zamówieniem?"


@pytest.mark.parametrize("language, default, subject", [
    ("de-AT", None, DE_SUBJECT),
    ("de-AT,de;q=0.9,en;q=0.8", None, DE_SUBJECT),  # an Accept-Language value
    ("pt-BR", "pl", PL_SUBJECT),
    ("pt-BR", None, EN_SUBJECT),
    ("en-GB", "de", EN_SUBJECT),
])
def test_language_per_shopper(make_engine, smtp_server, clock, language, default, subject):
    box, port = smtp_server()
    extra = {"default_language": default} if default else {}
    engine = make_engine(channels={"email": cr.SmtpChannel("127.0.0.1", port, starttls=False,
                                                           sender=SENDER, timeout=5)},
                         settings=settings(**extra))
    add_cart(engine, language=language)
    run_at(engine, clock, T0 + HOUR)
    (msg,) = box.messages()
    assert msg["Subject"] == subject
    if subject == DE_SUBJECT:
        assert "Warenkorb" in msg.get_body(("plain",)).get_content()


def test_shop_template_overrides_one_part(make_engine, clock, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "visitor_1.email.de.subject.mustache").write_text(
        "{{shop.name}}: Ihr Korb wartet", encoding="utf-8")
    (templates / "visitor_1.sms.en.text.mustache").write_text(
        "{{shop.name}}: {{item_count}} items wait: {{cart_url}}", encoding="utf-8")
    engine = make_engine(flows=[one_step("email", "sms")],
                         channels={"email": cr.OutboxChannel(), "sms": cr.OutboxChannel()},
                         settings=settings(templates=str(templates)))
    add_cart(engine, "de", email="dora@example.com", language="de-AT")
    add_cart(engine, "en", email="eve@example.com", phone=PHONE, consent={"sms": True})
    run_at(engine, clock, T0 + HOUR)
    (de,) = sent(engine, "de")
    assert de["subject"] == "Kite Shop: Ihr Korb wartet"
    assert "Warenkorb" in de["text"]  # the shipped German text part is still used
    en = {m["channel"]: m for m in sent(engine, "en")}
    assert en["email"]["subject"] == EN_SUBJECT
    assert en["sms"]["text"] == "Kite Shop: 1 items wait: https://kite.example/cart/en"


@pytest.mark.parametrize("name, text, field, words", [
    ("visitor_1.email.en.text.mustache", "Hello\nYour cart:\n{{#items}}- {{name}}\n{{/item}}\n",
     "visitor_1.email.en.text.mustache:4", "opened at line 3"),
    ("visitor_2_opened.sms.de.text.mustache", "Hallo\n*|FRIST_NAME|*: {{cart_url}}",
     "visitor_2_opened.sms.de.text.mustache:2", "FRIST_NAME"),
])
def test_broken_shop_template_is_a_config_error_naming_file_and_line(make_engine, tmp_path, name,
                                                                     text, field, words):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / name).write_text(text, encoding="utf-8")
    with pytest.raises(cr.ConfigError) as e:
        make_engine(settings=settings(templates=str(templates)))
    assert e.value.field == field
    assert words in str(e.value)


def test_first_name_only_with_personalization_consent(make_engine, smtp_server, clock):
    box, port = smtp_server()
    engine = make_engine(channels={"email": cr.SmtpChannel("127.0.0.1", port, starttls=False,
                                                           sender=SENDER, timeout=5)})
    add_cart(engine, "yes", email="ann@example.com", first_name="Annabel",
             consent={"personalization": True})
    add_cart(engine, "no", email="bob@example.com", first_name="Bartholomew")
    add_cart(engine, "refused", email="cy@example.com", first_name="Cyrillus",
             consent={"personalization": False})
    run_at(engine, clock, T0 + HOUR)
    mails = {m["To"].addresses[0].addr_spec: m for m in box.messages()}
    assert len(mails) == 3
    yes = mails["ann@example.com"]
    assert yes["To"].addresses[0].display_name == "Annabel"
    assert "Annabel" in yes.get_body(("plain",)).get_content()
    for addr, name in (("bob@example.com", "Bartholomew"), ("cy@example.com", "Cyrillus")):
        msg = mails[addr]
        assert msg["To"].addresses[0].display_name == ""
        assert name not in msg.as_string()
