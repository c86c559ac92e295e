"""Several SMTP connections per channel (issue 9): the worker delivers a batch's e-mails on up
to `connections` sessions at once, to a real SMTP server (aiosmtpd) that answers each DATA
after a pause, so that sessions overlap. What is asserted is the concurrency the server saw
and what arrived (each message once, Message-ID = message id), never wall time."""
from __future__ import annotations

import threading

import pytest

pytest.importorskip("aiosmtpd")

import cartrecovery as cr  # noqa: E402
from conftest import HOUR, T0, add_cart, run_at  # noqa: E402

SENDER = "Kite Shop <shop@kite.example>"


def smtp_engine(make_engine, port, connections):
    channel = cr.SmtpChannel("127.0.0.1", port, starttls=False, sender=SENDER, timeout=5,
                             connections=connections)
    return make_engine(channels={"email": channel},
                       settings={"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
                                 "retry_base_seconds": 60})


def add_carts(engine, n):
    for i in range(n):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")


def arrived(sink) -> list[str]:
    """The message id of every message the server accepted (Message-ID's local part)."""
    return [header.strip("<>").split("@", 1)[0] for _, header in sink.deliveries()]


@pytest.mark.parametrize("connections", [1, 4])
def test_a_batch_goes_out_on_up_to_n_sessions_at_once_each_message_once(
        smtp_server, make_engine, clock, connections):
    sink, port = smtp_server(delay=0.05)
    engine = smtp_engine(make_engine, port, connections)
    add_carts(engine, 24)
    run_at(engine, clock, T0 + HOUR)

    messages = engine.messages()
    assert len(messages) == 24 and {m["status"] for m in messages} == {"sent"}
    got = arrived(sink)
    assert sorted(got) == sorted(m["message_id"] for m in messages)  # each once, ids kept
    assert len(sink.peers) <= connections  # kept connections, never more than asked for
    if connections == 1:
        assert sink.max_active == 1  # today's behaviour: one message at a time
    else:
        assert 2 <= sink.max_active <= connections, sink.max_active


def test_a_connection_the_server_drops_is_replaced_and_the_rest_arrive_once(
        smtp_server, make_engine, clock):
    sink, port = smtp_server(delay=0.02)
    sink.drop_at = {5}  # hang up instead of answering the fifth DATA
    engine = smtp_engine(make_engine, port, 4)
    add_carts(engine, 40)
    run_at(engine, clock, T0 + HOUR)

    assert len(sink.dropped) == 1
    statuses = sorted(m["status"] for m in engine.messages())
    assert statuses == ["retrying"] + ["sent"] * 39  # the one cut off is tried again
    # Four sessions, and the one hung up on connected afresh: five connections in all, never
    # more than four at once.
    assert len(sink.peers) == 5 and sink.max_active <= 4

    run_at(engine, clock, T0 + 2 * HOUR)  # past the retry's backoff
    messages = engine.messages()
    assert {m["status"] for m in messages} == {"sent"}
    assert sorted(arrived(sink)) == sorted(m["message_id"] for m in messages)


def test_an_order_placed_while_a_batch_is_delivered_stops_its_unsent_reminders(
        smtp_server, make_engine, clock):
    """S4 with four sessions: the order commits (durable, as order_placed always is) after
    the first messages reached the server; the last cart's reminder has not left yet and is
    stopped."""
    sink, port = smtp_server(delay=0.05)
    engine = smtp_engine(make_engine, port, 4)
    carts = 60
    add_carts(engine, carts)
    clock.set(T0 + HOUR)
    errors = []

    def run():
        try:
            engine.run_due()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    runner = threading.Thread(target=run)
    runner.start()
    try:
        while sink.count() < 1 and runner.is_alive():
            threading.Event().wait(0.002)
        engine.track("order_placed", order_id="o-1", email=f"s{carts - 1}@example.com")
    finally:
        runner.join(60)
    assert not errors and not runner.is_alive()

    stopped = [m for m in engine.messages() if m["to"] == f"s{carts - 1}@example.com"]
    assert [(m["status"], m["reason"]) for m in stopped] == [("suppressed", "ordered")]
    assert stopped[0]["message_id"] not in arrived(sink)
    sent = [m for m in engine.messages() if m["status"] == "sent"]
    assert len(sent) == carts - 1
    assert sorted(arrived(sink)) == sorted(m["message_id"] for m in sent)


@pytest.mark.parametrize("bad", [0, -1, 65])
def test_connections_out_of_range_is_a_config_error_naming_it(bad):
    with pytest.raises(cr.ConfigError, match="connections") as info:
        cr.SmtpChannel("127.0.0.1", 25, connections=bad)
    assert info.value.field == "connections"
    with pytest.raises(cr.ConfigError, match="concurrency"):
        cr.CallbackChannel(print, concurrency=bad)


def test_connections_must_be_a_whole_number():
    with pytest.raises(cr.ConfigError, match="connections"):
        cr.SmtpChannel("127.0.0.1", 25, connections="4")


def test_the_worker_setting_reaches_the_channel_and_is_checked():
    from cartrecovery.service import load_service_config

    config = load_service_config(None, ["smtp_host=127.0.0.1", "smtp_connections=3"], {})
    assert config.channels["email"]._native.concurrency() == 3
    config = load_service_config(None, ["smtp_host=127.0.0.1"], {})
    assert config.channels["email"]._native.concurrency() == 4
    with pytest.raises(cr.ConfigError, match=r"smtp_connections \(command line\)"):
        load_service_config(None, ["smtp_host=127.0.0.1", "smtp_connections=0"], {})


@pytest.mark.parametrize("concurrency", [1, 3])
def test_callbacks_run_one_at_a_time_unless_asked(make_engine, clock, concurrency):
    lock = threading.Lock()
    state = {"active": 0, "max": 0, "ids": []}

    def deliver(message):
        with lock:
            state["active"] += 1
            state["max"] = max(state["max"], state["active"])
            state["ids"].append(message["message_id"])
        threading.Event().wait(0.02)  # releases the GIL, as a callback doing I/O would
        with lock:
            state["active"] -= 1

    engine = make_engine(channels={"email": cr.CallbackChannel(deliver, concurrency=concurrency)})
    add_carts(engine, 12)
    run_at(engine, clock, T0 + HOUR)
    messages = engine.messages()
    assert {m["status"] for m in messages} == {"sent"}
    assert sorted(state["ids"]) == sorted(m["message_id"] for m in messages)
    if concurrency == 1:
        assert state["max"] == 1
    else:
        assert 2 <= state["max"] <= concurrency


# ---- HTTP channels: kept connections (keep-alive) and concurrency ----------------------------

class CountingHttpServer:
    """A real HTTP/1.1 server (keep-alive) that answers each request after `delay` seconds
    and records the client port it came from (one per connection) and the most requests it
    was answering at once. Requests counted in `drop_at` (1-based) are hung up on."""

    def __init__(self, delay: float):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.delay = delay
        self.lock = threading.Lock()
        self.ports: list[int] = []  # per request
        self.keys: list[str] = []   # Idempotency-Key per answered request
        self.active = self.max_active = self.count = 0
        self.drop_at: set[int] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server.lock:
                    server.count += 1
                    drop = server.count in server.drop_at
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                threading.Event().wait(server.delay)
                with server.lock:
                    server.active -= 1
                    if not drop:
                        server.ports.append(self.client_address[1])
                        server.keys.append(self.headers["Idempotency-Key"])
                if drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_sink():
    servers = []

    def start(delay: float = 0.0) -> CountingHttpServer:
        servers.append(CountingHttpServer(delay))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def webhook_engine(make_engine, url, connections):
    flow = {"name": "hooks", "abandon_after": "1h",
            "paths": [{"name": "visitor", "steps": [{"after": "1h", "channels": ["crm"]}]}]}
    return make_engine(flows=[flow],
                       channels={"crm": cr.WebhookChannel(url, "whsec-kite-0123456789abcdef",
                                                          timeout=5, connections=connections)},
                       settings={"shop_name": "Kite Shop", "base_url": "https://kite.example/cr/",
                                 "retry_base_seconds": 60})


@pytest.mark.parametrize("connections", [1, 4])
def test_webhooks_reuse_their_connections_and_send_up_to_n_at_once(
        http_sink, make_engine, clock, connections):
    server = http_sink(delay=0.03)
    engine = webhook_engine(make_engine, server.url, connections)
    add_carts(engine, 20)
    run_at(engine, clock, T0 + HOUR)
    messages = engine.messages()
    assert len(messages) == 20 and {m["status"] for m in messages} == {"sent"}
    assert sorted(server.keys) == sorted(m["message_id"] for m in messages)  # each once
    # Keep-alive: no more connections than requests under way at once, not one per request.
    assert len(set(server.ports)) <= connections
    if connections == 1:
        assert server.max_active == 1
    else:
        assert 2 <= server.max_active <= connections, server.max_active


def test_a_kept_http_connection_that_breaks_is_replaced(http_sink, make_engine, clock):
    """The third request goes on a kept connection, which the server hangs up without an
    answer: the request goes again at once on a fresh connection (the provider dedupes by
    Idempotency-Key), and the rest follow on the kept ones."""
    server = http_sink(delay=0.005)
    server.drop_at = {3}
    engine = webhook_engine(make_engine, server.url, 2)
    add_carts(engine, 12)
    run_at(engine, clock, T0 + HOUR)
    messages = engine.messages()
    assert {m["status"] for m in messages} == {"sent"}
    assert server.count == 13  # one request twice: hung up on, then answered
    assert sorted(server.keys) == sorted(m["message_id"] for m in messages)
    assert len(set(server.ports)) == 3  # two kept connections and the broken one's replacement


@pytest.mark.parametrize("make", [
    lambda bad: cr.WebhookChannel("https://hooks.example/x", "whsec-kite-0123456789abcdef",
                                  connections=bad),
    lambda bad: cr.SmsChannel("https://sms.example/send", connections=bad),
], ids=["webhook", "sms"])
def test_http_connections_out_of_range_is_a_config_error(make):
    for bad in (0, -2, 65):
        with pytest.raises(cr.ConfigError, match="connections") as info:
            make(bad)
        assert info.value.field == "connections"
