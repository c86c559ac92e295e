"""What if: a stored history replayed against candidate flows on a scratch engine
(cartrecovery.replay), its export, and the `replay` / `export-events` commands. The
histories are played through a real engine at exact times, so a replay of the same flow must
send exactly what the store sent."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest

import cartrecovery as cr
from cartrecovery.replay import export_events, load_flows, read_events, replay
from conftest import DAY, HOUR, KITE, ON_POSTGRES, SETTINGS, T0, store_url

MINUTE = timedelta(minutes=1)
COHORTS = (T0, T0 + 30 * MINUTE)  # two arrival times, so batches and due times interleave


def play(engine, clock, plan):
    """plan: {time: [event dicts, or callables giving one]}; each time also runs what is due."""
    for t in sorted(plan):
        clock.set(t)
        events = [e() if callable(e) else e for e in plan[t]]
        if events:
            engine.track_many(events)
        engine.run_due()


def shopper(plan, start, cart, email=None, orders_count=None):
    plan.setdefault(start, []).append({"type": "cart_updated", "cart_id": cart, "visitor_id": f"v-{cart}",
                                       "items": [dict(KITE)], "currency": "EUR"})
    if email:
        contact = {"type": "contact_captured", "cart_id": cart, "email": email,
                   "consent": {"email": True}}
        if orders_count:
            contact["orders_count"] = orders_count
        plan.setdefault(start + 2 * MINUTE, []).append(contact)


def reminder_times(start, customer):
    """The default flow's reminders for a shopper who never opens (PLAYBOOKS S1, S2)."""
    s = start + 2 * MINUTE + HOUR  # the contact, the last activity, came two minutes in
    return [s, s + DAY, s + 3 * DAY] if customer else [s, s + 10 * HOUR, s + 10 * HOUR + 2 * DAY]


def history_plan():
    """Customers and visitors in two cohorts: some order after a reminder, one with a coupon,
    one unsubscribes, one never leaves an address, one buys at once. No opens or clicks."""
    plan = {}
    for k, start in enumerate(COHORTS):
        for i in range(4):
            cart, email = f"c{k}{i}", f"c{k}{i}@example.com"
            shopper(plan, start, cart, email, orders_count=1)
            times = reminder_times(start, customer=True)
            for t in times:
                plan.setdefault(t, [])
            if i == 1:  # orders after reminder 2
                plan.setdefault(times[1] + 2 * HOUR, []).append(
                    {"type": "order_placed", "order_id": f"o-{cart}", "cart_id": cart, "value": "59.97"})
            if i == 3:  # orders after reminder 3
                plan.setdefault(times[2] + 2 * HOUR, []).append(
                    {"type": "order_placed", "order_id": f"o-{cart}", "cart_id": cart, "value": "59.97"})
        for i in range(5):
            cart, email = f"v{k}{i}", f"v{k}{i}@example.com"
            shopper(plan, start, cart, email)
            times = reminder_times(start, customer=False)
            for t in times:
                plan.setdefault(t, [])
            if i == 2:  # browses again before reminder 1, orders twenty minutes after it
                plan.setdefault(start + 50 * MINUTE, []).append(
                    {"type": "page_view", "visitor_id": f"v-{cart}", "page_type": "product"})
                plan.setdefault(times[0] + 20 * MINUTE, []).append(
                    {"type": "order_placed", "order_id": f"o-{cart}", "email": email, "value": "59.97",
                     "coupon": "SPRING10"})
            if i == 4:
                plan.setdefault(times[1] + HOUR, []).append({"type": "unsubscribed", "email": email})
        shopper(plan, start, f"n{k}")  # no address: abandoned, refused, nothing sent
        plan.setdefault(start + HOUR, [])  # ... an hour after it was left
        shopper(plan, start, f"b{k}", f"b{k}@example.com")
        plan.setdefault(start + 10 * MINUTE, []).append(
            {"type": "order_placed", "order_id": f"o-b{k}", "cart_id": f"b{k}", "value": "59.97"})
    return plan


@pytest.fixture
def history(make_engine, clock):
    """The store the shop has: the default flow run over history_plan()."""
    engine = make_engine()
    play(engine, clock, history_plan())
    clock.set(T0 + 10 * DAY)
    engine.run_due()
    return engine


def without_customer_step_3() -> dict:
    flow = cr.default_flow().to_dict()
    customer = next(p for p in flow["paths"] if p["name"] == "customer")
    customer["steps"].pop()
    return flow


def counts(rows, *keys):
    """Report rows keyed by `keys`, with every count but the texts that name them."""
    return {tuple(r[k] for k in keys): {k: v for k, v in r.items() if k not in keys}
            for r in rows}


# ---- the round trip -----------------------------------------------------------------------

def test_the_same_flow_replayed_from_an_export_sends_what_the_store_sent(history, tmp_path):
    path = tmp_path / "events.jsonl"
    stored = list(history.events())
    assert export_events(history, path) == len(stored)
    assert read_events(path) == stored
    for line in path.read_text(encoding="utf-8").splitlines():  # times carry their offset
        assert json.loads(line)["at"].endswith("+00:00")

    scratch = tmp_path / "scratch.db"
    result = replay(path, [cr.default_flow()], compare_with=history, store=store_url(scratch))
    assert result.events == len(stored) and result.skipped == {}
    # Every message, to the minute: the replay stops its clock where each job falls due.
    after = cr.Engine(store=store_url(scratch), settings=SETTINGS)
    try:
        fate = lambda m: (m["cart_id"], m["step"], m["status"], m["reason"], m["due_at"], m["sent_at"])  # noqa: E731
        assert sorted(map(fate, after.messages())) == sorted(map(fate, history.messages()))
    finally:
        after.close()
    assert result.start == T0 and result.end == max(e["at"] for e in stored) + 7 * DAY
    assert [(s.flow, s.step, s.channel) for s in result.steps] == [("cart-recovery", n, "email") for n in (1, 2, 3)]
    assert all(s.sent == s.would_send > 0 and s.change == 0 for s in result.steps)
    assert result.was == result.would
    # 2 x 4 customers + 2 x 5 visitors started; the shopper without an address did not.
    assert result.would.journeys == 18
    assert (result.would.orders, result.would.revenue) == (6, Decimal("59.97") * 6)
    by = ("flow", "path", "step", "channel")
    assert counts(result.report, *by) == counts(history.report(by=by), *by)


def test_a_replay_reads_the_store_itself_and_its_settings(history):
    result = replay(history, flows=None)  # None: the default flow
    assert result.was == result.would and [s.change for s in result.steps] == [0, 0, 0]
    assert "cart-recovery" in result.summary() and "journeys started" in result.summary()


def test_a_candidate_with_one_step_fewer_sends_exactly_that_step_fewer(history):
    result = replay(history, [without_customer_step_3()])
    [customer_3] = history.report(by=(), path="customer", step=3)
    assert customer_3["sent"] == 6  # the customer who ordered after reminder 2 got no third
    changes = {s.step: s.change for s in result.steps}
    assert changes == {1: 0, 2: 0, 3: -customer_3["sent"]}
    assert result.would.sent == result.was.sent - customer_3["sent"]
    # The same orders, at the same times: the one after reminder 3 now follows reminder 2.
    assert (result.would.orders, result.would.revenue) == (result.was.orders, result.was.revenue)
    before = counts(history.report(by=("path", "step")), "path", "step")
    after = counts(result.report, "path", "step")
    assert after[("customer", 2)]["orders"] == before[("customer", 2)]["orders"] + before[("customer", 3)]["orders"] == 4
    assert ("customer", 3) not in after
    assert result.would.journeys == result.was.journeys


def test_since_and_until_choose_the_events_replayed(history):
    since, until = COHORTS[1], COHORTS[1] + HOUR
    result = replay(history, since=since, until=until, tail="2h")
    assert result.events == len(list(history.events(since=since, until=until))) > 0
    assert result.start >= since and result.end < until + 2 * HOUR
    # Only the second cohort's arrivals: each shopper with an address gets reminder 1.
    assert [(s.step, s.would_send) for s in result.steps] == [(1, 9)]


def test_a_list_of_events_replays_and_an_empty_window_says_so(history):
    events = list(history.events())
    result = replay(events, compare_with=history)
    assert result == replay(history)
    empty = replay(events, since=T0 + 30 * DAY)
    assert (empty.events, empty.steps, empty.would) == (0, [], None)
    assert empty.summary() == "no events to replay"


def test_progress_moves_forward_to_the_end(history):
    seen = []
    replay(history, tail="1d", progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 5


# ---- engagement cannot be replayed ------------------------------------------------------------

def test_opens_clicks_and_bounces_are_skipped_and_counted(make_engine, clock, tmp_path):
    original = make_engine()
    plan = {}
    for i in range(3):
        shopper(plan, T0, f"v{i}", f"v{i}@example.com")
    play(original, clock, plan)
    s = reminder_times(T0, customer=False)[0]
    clock.set(s)
    original.run_due()
    first = {m["cart_id"]: m["message_id"] for m in original.messages()}
    clock.set(s + HOUR)
    original.track("link_clicked", message_id=first["v0"], url="https://kite.example/cart")
    original.track("message_opened", message_id=first["v0"])
    original.track("message_opened", message_id=first["v1"])
    original.record_bounce(first["v2"], permanent=False)
    # Reminder 2: clicked at +8 h, opened at +6 h, the bounced one not opened at +10 h.
    play(original, clock, {s + 6 * HOUR: [], s + 8 * HOUR: [], s + 10 * HOUR: []})
    assert [m["branch"] for m in original.messages(cart_id="v0")] == [None, "clicked"]

    scratch = tmp_path / "scratch.db"
    result = replay(original, tail="12h", store=store_url(scratch))
    assert result.skipped == {"link_clicked": 1, "message_opened": 2, "message_bounced": 1}
    assert result.events == len(list(original.events())) - 4
    assert "skipped 4 events about the original messages" in result.summary()
    # Without the opens every visitor takes the not-opened branch, ten hours after reminder 1.
    after = cr.Engine(store=store_url(scratch), clock=clock, settings=SETTINGS)
    try:
        for cart in ("v0", "v1", "v2"):
            m1, m2 = after.messages(cart_id=cart)
            assert (m2["branch"], m2["sent_at"]) == ("unopened", m1["sent_at"] + 10 * HOUR)
            assert m1["opened_at"] is None
    finally:
        after.close()


# ---- files ----------------------------------------------------------------------------------

def write_jsonl(path, events):
    path.write_text("".join(json.dumps(e, default=str) + "\n" for e in events), encoding="utf-8")


def as_file_form(event):
    return {**event, "at": event["at"].isoformat()}


def test_a_json_array_and_csv_replay_like_json_lines(history, tmp_path):
    events = [as_file_form(e) for e in history.events()]
    (tmp_path / "e.json").write_text(json.dumps(events, indent=2), encoding="utf-8")
    with open(tmp_path / "e.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["type", "at", "fields"])
        for e in events:
            fields = {k: v for k, v in e.items() if k not in ("type", "at")}
            out.writerow([e["type"], e["at"], json.dumps(fields, indent=1)])  # multi-line cells
    write_jsonl(tmp_path / "e.jsonl", events)
    results = [replay(tmp_path / name, compare_with=history) for name in ("e.jsonl", "e.json", "e.csv")]
    assert results[0].events == len(events)
    assert results[1] == results[0] and results[2] == results[0]


GOOD = '{"type": "page_view", "at": "2026-03-02T09:00:00+00:00", "visitor_id": "v1", "page_type": "home"}'


@pytest.mark.parametrize("name, text, where, field", [
    ("e.jsonl", f"{GOOD}\n\n{{\"type\": \"page_view\", \"at\": ", "e.jsonl:3", ""),
    ("e.jsonl", f'{GOOD}\n{{"type": "page_view", "at": "2026-03-02T09:00:00"}}\n', "e.jsonl:2", "at"),
    ("e.jsonl", f'{GOOD}\n{{"type": "page_view", "at": "yesterday"}}\n', "e.jsonl:2", "at"),
    ("e.jsonl", f'{GOOD}\n{{"at": "2026-03-02T09:00:00+00:00"}}\n', "e.jsonl:2", "type"),
    ("e.jsonl", f"{GOOD}\n[1, 2]\n", "e.jsonl:2", ""),
    # Refused by the engine's own validation: still the file's line.
    ("e.jsonl", f'{GOOD}\n{GOOD}\n{GOOD}\n{{"type": "cart_updated", "at": "2026-03-02T09:01:00+01:00", '
                '"cart_id": "c", "items": [{"sku": "K", "price": "a lot", "quantity": 1}]}\n',
     "e.jsonl:4", "items[0].price"),
    ("e.json", f'[\n  {GOOD},\n  {{"type": "page_view",\n   "at": 17}}\n]', "e.json:3", "at"),
    ("e.json", f'[\n  {GOOD}\n  {GOOD}\n]', "e.json:3", ""),
    ("e.json", '{"type": "page_view"}\n', "e.json:1", "at"),
    ("e.csv", "type,at,fields,colour\n", "e.csv:1", "colour"),
    ("e.csv", "type,fields\n", "e.csv:1", "at"),
    ("e.csv", 'type,at,fields\npage_view,2026-03-02T09:00:00+00:00,"{""visitor_id"":\n""v1"", ""page_type"": ""home""}"\n'
              "page_view,2026-03-02T09:00:00+00:00,{not json}\n", "e.csv:4", "fields"),
    ("e.csv", 'type,at,fields\npage_view,2026-03-02T09:00:00+00:00,"[1]"\n', "e.csv:2", "fields"),
    ("e.csv", "type,at,fields\npage_view,2026-03-02T09:00:00+00:00\n", "e.csv:2", ""),
], ids=["jsonl-syntax", "jsonl-naive-time", "jsonl-not-a-time", "jsonl-no-type", "jsonl-not-an-object",
        "jsonl-engine-refuses", "array-bad-time", "array-missing-comma", "json-lines-in-a-json-file",
        "csv-unknown-column", "csv-no-at", "csv-fields-not-json", "csv-fields-not-an-object", "csv-short-row"])
def test_a_bad_event_file_names_the_file_line_and_field(tmp_path, name, text, where, field):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(cr.ValidationError) as e:
        replay(path)
    assert str(e.value).startswith(f"{tmp_path / where}: ")
    assert e.value.field == field


def test_a_bad_flow_file_names_the_path_inside_the_document(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"name": "x", "paths": [{"name": "p", "steps": [{"after": "1q"}]}]}))
    with pytest.raises(cr.ConfigError) as e:
        load_flows(one)
    assert str(e.value).startswith(f"{one}: paths[0].steps[0].after: ")
    assert e.value.field == "paths[0].steps[0].after"
    several = tmp_path / "several.json"
    several.write_text(json.dumps([cr.default_flow().to_dict(), {"name": "y", "paths": [], "colour": 1}]))
    with pytest.raises(cr.ConfigError) as e:
        load_flows(several)
    assert str(e.value).startswith(f"{several}: [1].") and e.value.field.startswith("[1].")
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "name": "x",\n  "paths": [\n')
    with pytest.raises(cr.ConfigError) as e:
        load_flows(broken)
    assert str(e.value).startswith(f"{broken}:4:")
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps([cr.default_flow().to_dict(), without_customer_step_3() | {"name": "short"}]))
    assert [f.name for f in load_flows(ok)] == ["cart-recovery", "short"]


def test_the_replay_never_reaches_the_shops_outbox_directory(history, tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    result = replay(history, settings={**SETTINGS, "outbox_directory": str(outbox)})
    assert result.would.sent > 0 and list(outbox.iterdir()) == []


# ---- the commands -----------------------------------------------------------------------------

def cli(*args):
    return subprocess.run([sys.executable, "-m", "cartrecovery", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_export_events_and_replay_on_the_command_line(history, db_path, tmp_path):
    history.flush()
    store = store_url(db_path)
    out = tmp_path / "history.jsonl"
    run = cli("export-events", "--store", store, "--out", out)
    assert run.returncode == 0, run.stderr
    assert read_events(out) == list(history.events())
    flows = tmp_path / "candidate.json"
    flows.write_text(json.dumps(without_customer_step_3()))

    for extra in ([], ["--events", out]):
        run = cli("replay", "--store", store, "--flows", flows, "--json", *extra)
        assert run.returncode == 0, run.stderr
        data = json.loads(run.stdout)
        [customer_3] = history.report(by=(), path="customer", step=3)
        assert {s["step"]: s["change"] for s in data["steps"]} == {1: 0, 2: 0, 3: -customer_3["sent"]}
        assert data["events"] == len(list(history.events())) and data["skipped"] == {}
        assert data["was"]["orders"] == data["would"]["orders"] == 6
        assert "100%" in run.stderr  # the progress bar

    run = cli("replay", "--store", store, "--flows", flows, "--tail", "3d")
    assert run.returncode == 0, run.stderr
    assert "would send" in run.stdout and "journeys started" in run.stdout


def test_command_line_errors_exit_2_and_say_what_is_wrong(history, db_path, tmp_path):
    history.flush()
    store = store_url(db_path)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(cr.default_flow().to_dict()))
    bad_flow = tmp_path / "bad.json"
    bad_flow.write_text(json.dumps({"name": "x", "paths": [{"name": "p", "steps": [{"after": "1h", "colour": 1}]}]}))
    bad_events = tmp_path / "bad.jsonl"
    bad_events.write_text(f"{GOOD}\n{{\"type\": \"page_view\"}}\n")
    cases = [
        (["--flows", bad_flow], f"{bad_flow}: paths[0].steps[0].colour"),
        (["--flows", good, "--events", bad_events], f"{bad_events}:2: at:"),
        (["--flows", good, "--events", tmp_path / "missing.jsonl"], "missing.jsonl"),
        (["--flows", good, "--tail", "a week"], "tail:"),
        (["--flows", good, "--since", "last monday"], "--since"),
    ]
    for args, message in cases:
        run = cli("replay", "--store", store, *args)
        assert run.returncode == 2 and message in run.stderr, (args, run.stderr)
        assert "Traceback" not in run.stderr
    if ON_POSTGRES:
        return  # "no such store" is a SQLite file's notion; a PostgreSQL schema is created on open
    run = cli("replay", "--store", store_url(tmp_path / "typo.db"), "--flows", good)
    assert run.returncode == 2 and "no store at" in run.stderr
    assert not (tmp_path / "typo.db").exists()
    run = cli("export-events", "--store", store_url(tmp_path / "typo.db"), "--out", tmp_path / "x.jsonl")
    assert run.returncode == 2 and not (tmp_path / "x.jsonl").exists()
