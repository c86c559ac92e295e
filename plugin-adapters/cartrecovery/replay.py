"""What if: replay a shop's event history against candidate flows, and compare.

    result = replay("sqlite:///recovery.db", flows=["shorter.json"])
    print(result.summary())

The history (a store, an open Engine, or an export of it) is fed in time order to a scratch
engine that runs the candidate flows on a ManualClock, with every channel bound to an
outbox: nothing reaches a shopper. The clock stops at every time a job falls due, so each
reminder goes exactly when the candidate flow says; after the last event it runs on for a
``tail`` (default 7 days) so the last journeys finish. The result sets, per flow, step and
channel, what the store sent beside what the candidate would have sent, with the journeys
started, the orders that followed a reminder and the scratch engine's report.

What a replay cannot know: how shoppers would have reacted to *other* messages. Opens,
clicks and bounces (message_opened, link_clicked, message_bounced) point at the original
messages, so they are skipped and counted in ``skipped``; branches that wait on engagement
take the not-opened branch. Orders, unsubscribes and everything else replay at their
original times, so "orders that followed" tells how many of the same orders the candidate's
reminders would have preceded (last touch within the attribution window), not how many more
a better flow would win. Popups (exit intent) are decisions, not events, and are not
replayed. "What was sent" is the store's report over the same span of time (the first event
to the end of the tail): replaying a window of a longer history, reminders for carts left
just before it count on that side only. The scratch store starts empty, so coupon pools come
from the settings (``coupon_pools``); a step needing codes imported into the shop's store
waits for them in the replay (R4.3), which shows as fewer reminders.

Files (``export_events`` writes the first):
- JSON Lines (.jsonl, .ndjson): one event per line, ``{"type", "at", **fields}``, ``at``
  ISO-8601 with a UTC offset ("2026-03-02T09:00:00+00:00"); blank lines are skipped.
- a JSON array (.json) of such objects.
- CSV (.csv): a header with the columns ``type``, ``at`` and ``fields``, the last a JSON
  object with every other field of the event (may be empty: ``{}``), e.g.
  ``order_placed,2026-03-02T11:00:00+00:00,"{""order_id"": ""o1"", ""value"": ""19.99""}"``.
  Any other column is an error, since its values would silently not be replayed.
A problem in a file is a ValidationError naming ``file:line`` and the field.
"""
from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping

from . import _core
from ._time import to_ms
from .channels import OutboxChannel
from .clock import ManualClock
from .engine import Engine
from .flows import Flow, coerce_flow, default_flow

# Events about the original messages: meaningless against the candidate's messages.
ENGAGEMENT = ("message_opened", "link_clicked", "message_bounced")

# Settings that reach outside the scratch store: the shop's outbox directory would get
# the replay's messages as .eml files.
_NOT_COPIED = {"outbox_directory"}

_BATCH = 1000  # events per track_many: bounded, so the engine's queue never fills


# ---- errors -----------------------------------------------------------------------------

def _invalid(where: str, field: str, problem: str) -> _core.ValidationError:
    err = _core.ValidationError(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")
    err.field = field
    return err


def _config_error(message: str, field: str | None) -> _core.ConfigError:
    err = _core.ConfigError(message)
    err.field = field
    return err


# ---- reading histories ----------------------------------------------------------------

@dataclass
class _Event:
    at: datetime
    event: dict  # {"type", "at", **fields}, ready for track_many
    where: str   # "file:line", or the event's place in the source, for errors


def _parse_at(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid(where, "at", f"{value!r} is not an ISO-8601 time "
                                        "(write e.g. 2026-03-02T09:00:00+00:00)") from None
    else:
        raise _invalid(where, "at", "is required: an ISO-8601 time with a UTC offset")
    if at.tzinfo is None or at.utcoffset() is None:
        raise _invalid(where, "at", f"{value!s} has no UTC offset (write e.g. +00:00)")
    return at


def _checked(obj: Any, where: str) -> _Event:
    if not isinstance(obj, dict):
        raise _invalid(where, "", f"expected an event object, got {type(obj).__name__}")
    type_ = obj.get("type")
    if not isinstance(type_, str) or not type_:
        raise _invalid(where, "type", "is required")
    event = dict(obj)
    event["at"] = _parse_at(obj.get("at"), where)
    return _Event(event["at"], event, where)


def _read_jsonl(path: str, lines: Iterable[str]) -> Iterator[_Event]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise _invalid(where, "", f"not valid JSON: {e.msg} (column {e.colno})") from None
        yield _checked(obj, where)


def _read_json_array(path: str, text: str) -> Iterator[_Event]:
    # Decoded element by element, so that an error names the line its event starts on.
    decoder = json.JSONDecoder()
    line_of = lambda pos: text.count("\n", 0, pos) + 1  # noqa: E731
    pos = _skip_space(text, 0)
    if text[pos:pos + 1] != "[":
        raise _invalid(f"{path}:{line_of(pos)}", "", "expected a JSON array of events")
    pos = _skip_space(text, pos + 1)
    if text[pos:pos + 1] == "]":
        return
    while True:
        where = f"{path}:{line_of(pos)}"
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise _invalid(f"{path}:{e.lineno}", "", f"not valid JSON: {e.msg} (column {e.colno})") from None
        yield _checked(obj, where)
        pos = _skip_space(text, pos)
        if text[pos:pos + 1] == ",":
            pos = _skip_space(text, pos + 1)
        elif text[pos:pos + 1] == "]":
            if text[_skip_space(text, pos + 1):].strip():
                raise _invalid(f"{path}:{line_of(pos)}", "", "text after the end of the array")
            return
        else:
            raise _invalid(f"{path}:{line_of(pos)}", "", "expected ',' or ']' after an event")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _read_csv(path: str, f) -> Iterator[_Event]:
    reader = csv.reader(f)
    try:
        header = next(reader)
    except StopIteration:
        return
    columns = [c.strip() for c in header]
    unknown = [c for c in columns if c not in ("type", "at", "fields")]
    if unknown:
        raise _invalid(f"{path}:1", unknown[0], "unknown column (expected type, at, fields; "
                                                "every other field goes into the fields JSON)")
    for needed in ("type", "at"):
        if needed not in columns:
            raise _invalid(f"{path}:1", needed, "column is missing (expected type, at, fields)")
    line = reader.line_num
    for row in reader:
        where = f"{path}:{line + 1}"  # a quoted field may span lines: the record's first
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            raise _invalid(where, "", f"{len(row)} columns, the header has {len(columns)}")
        cells = dict(zip(columns, row))
        fields: Any = {}
        if cells.get("fields", "").strip():
            try:
                fields = json.loads(cells["fields"])
            except json.JSONDecodeError as e:
                raise _invalid(where, "fields", f"not valid JSON: {e.msg} (column {e.colno})") from None
            if not isinstance(fields, dict):
                raise _invalid(where, "fields", "expected a JSON object of the event's fields")
        for key in ("type", "at"):
            if key in fields:
                raise _invalid(where, f"fields.{key}", f"{key} has its own column")
        yield _checked({"type": cells["type"].strip(), "at": cells["at"].strip(), **fields}, where)


def read_events(path: str | os.PathLike, format: str | None = None) -> list[dict]:
    """The events of a file (JSON Lines, a JSON array or CSV; see the module's docstring),
    each ``{"type", "at": aware datetime, **fields}``. ``format`` ("jsonl", "json", "csv")
    defaults to the file's extension, else to what the first character says."""
    return [e.event for e in _read_file(path, format)]


def _read_file(path: str | os.PathLike, format: str | None = None) -> list[_Event]:
    name = os.fspath(path)
    fmt = format or {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(
        os.path.splitext(name)[1].lower())
    if fmt not in (None, "jsonl", "json", "csv"):
        raise ValueError(f"format: expected 'jsonl', 'json' or 'csv', got {format!r}")
    with open(name, encoding="utf-8", newline="") as f:
        text = f.read()
    if fmt in (None, "json"):  # a .json file may hold an array or one object a line
        first = text.lstrip()[:1]
        if first == "[":
            fmt = "json"
        elif first in ("{", "") or fmt == "json":
            fmt = "jsonl"
        else:
            fmt = "csv"
    if fmt == "json":
        return list(_read_json_array(name, text))
    if fmt == "jsonl":
        return list(_read_jsonl(name, text.splitlines()))
    return list(_read_csv(name, io.StringIO(text, newline="")))


def export_events(engine: Engine, path: str | os.PathLike, since: datetime | None = None,
                  until: datetime | None = None) -> int:
    """Writes the engine's event log (``since`` <= at < ``until``) to ``path`` as JSON Lines,
    oldest first, and returns how many events it wrote. The file appears whole or not at all:
    it is written beside and renamed into place."""
    name = os.fspath(path)
    partial = name + ".part"
    count = 0
    try:
        with open(partial, "w", encoding="utf-8") as f:
            for event in engine.events(since=since, until=until):
                f.write(json.dumps(event, default=_json_value, ensure_ascii=False) + "\n")
                count += 1
        os.replace(partial, name)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return count


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# ---- flows ------------------------------------------------------------------------------

def load_flows(path: str | os.PathLike) -> list[Flow]:
    """Candidate flows from a JSON file holding one flow or an array of flows. A problem is
    a ConfigError naming the file and the path inside the document ("[1].paths[0].after")."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise _config_error(f"{name}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}", None) from None
    except OSError as e:
        raise _config_error(f"{name}: cannot read the flow file: {e.strerror}", None) from None
    docs, prefix = (doc, "[{}].") if isinstance(doc, list) else ([doc], "")
    if not docs:
        raise _config_error(f"{name}: no flows in the file", None)
    flows = []
    for i, d in enumerate(docs):
        where = prefix.format(i)
        if not isinstance(d, dict):
            raise _config_error(f"{name}: {where or '(top)'}: expected a flow object", where.rstrip(".") or None)
        try:
            flows.append(Flow.from_json(d))
        except _core.ConfigError as e:
            inner = getattr(e, "field", None)
            raise _config_error(f"{name}: {where}{e}", where + inner if inner else where.rstrip(".") or None) from None
    return flows


def _channel_names(flows: list[Flow], settings: Mapping[str, Any]) -> list[str]:
    names: set[str] = set()
    for flow in flows:
        for path in flow.to_dict()["paths"]:
            for step in path["steps"]:
                names.update(step.get("channels", []))
    names.update((settings.get("sales_alert") or {}).get("channels", []))
    return sorted(names)


def _shortest_abandon_ms(flows: list[Flow]) -> int:
    return min(_core.parse_duration(f.to_dict()["abandon_after"]) for f in flows)


def parse_tail(value: str | timedelta) -> timedelta:
    """"7d", "1d12h", "90m" (the flows' duration syntax) or a timedelta."""
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise _config_error("tail: must not be negative", "tail")
        return value
    try:
        return timedelta(milliseconds=_core.parse_duration(str(value)))
    except _core.ConfigError as e:
        raise _config_error(f"tail: {str(e).split(': ', 1)[-1]}", "tail") from None


# ---- the result -------------------------------------------------------------------------

@dataclass(frozen=True)
class StepCount:
    """Messages of one flow step on one channel: sent by the store, sent in the replay."""
    flow: str
    step: int
    channel: str
    sent: int | None   # None: no store to compare with
    would_send: int

    @property
    def change(self) -> int | None:
        return None if self.sent is None else self.would_send - self.sent


@dataclass(frozen=True)
class Totals:
    journeys: int             # journeys started on the replayed carts (refusals not counted)
    sent: int                 # reminders sent
    orders: int               # orders that followed a reminder (last touch, attribution window)
    revenue: Decimal
    currency: str | None


@dataclass
class ReplayResult:
    events: int                          # events replayed
    skipped: dict[str, int]              # engagement events not replayed, by type
    start: datetime | None               # the first event
    end: datetime | None                 # the last event plus the tail
    steps: list[StepCount] = field(default_factory=list)
    would: Totals | None = None          # the candidate flows
    was: Totals | None = None            # the store, over the same time; None without one
    report: list[dict] = field(default_factory=list)  # the scratch engine's report()

    def summary(self) -> str:
        """A few lines for a terminal or a log (no settings, no secrets)."""
        if not self.events:
            return "no events to replay" + _skipped_text(self.skipped)
        lines = [f"replayed {self.events} events from {self.start:%Y-%m-%d %H:%M} to "
                 f"{self.end:%Y-%m-%d %H:%M} UTC (the last event plus the tail)"]
        if self.skipped:
            lines.append(_skipped_text(self.skipped).strip())
        lines.append("")
        header = ["flow", "step", "channel", "sent", "would send", "change"]
        cells = [[s.flow, str(s.step), s.channel, _n(s.sent), str(s.would_send), _signed(s.change)]
                 for s in self.steps]
        lines.append(_table(header, cells) if cells else "  (no reminders either way)")
        lines.append("")
        was, would = self.was, self.would
        for label, attr in (("journeys started", "journeys"), ("reminders sent", "sent"),
                            ("orders that followed a reminder", "orders"), ("their revenue", "revenue")):
            now = getattr(would, attr)
            suffix = f" {would.currency}" if attr == "revenue" and would.currency else ""
            if was is None:
                lines.append(f"  {label:32} {now}{suffix}")
            else:
                lines.append(f"  {label:32} {getattr(was, attr)} -> {now}{suffix}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready: times as ISO-8601, money as decimal text."""
        def plain(v):
            if isinstance(v, datetime):
                return v.isoformat()
            if isinstance(v, Decimal):
                return str(v)
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, list):
                return [plain(x) for x in v]
            return v
        totals = lambda t: None if t is None else plain(asdict(t))  # noqa: E731
        return {"events": self.events, "skipped": dict(self.skipped),
                "start": plain(self.start), "end": plain(self.end),
                "steps": [{**asdict(s), "change": s.change} for s in self.steps],
                "would": totals(self.would), "was": totals(self.was), "report": plain(self.report)}


def _skipped_text(skipped: Mapping[str, int]) -> str:
    if not skipped:
        return ""
    parts = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
    return f"\nskipped {sum(skipped.values())} events about the original messages ({parts})"


def _n(v: int | None) -> str:
    return "-" if v is None else str(v)


def _signed(v: int | None) -> str:
    return "-" if v is None else f"{v:+d}" if v else "0"


def _table(header: list[str], cells: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    line = lambda vals: "  " + "  ".join(  # noqa: E731
        v.ljust(w) if i in (0, 2) else v.rjust(w) for i, (v, w) in enumerate(zip(vals, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in cells])


# ---- the replay -------------------------------------------------------------------------

def replay(source: Any, flows: Iterable[Any] | None = None, *, since: datetime | None = None,
           until: datetime | None = None, tail: str | timedelta = "7d",
           settings: Mapping[str, Any] | None = None, compare_with: Any = None,
           store: str = ":memory:", progress: Callable[[float], None] | None = None) -> ReplayResult:
    """Replays the history in ``source`` against the candidate ``flows`` (Flow objects,
    dicts, JSON or paths; None: the default flow) and compares with what was sent.

    ``source``: an open Engine, a store URL ("sqlite:///recovery.db"), the path of an event
    file, or an iterable of event dicts. Only events with ``since`` <= at < ``until`` are
    replayed. ``compare_with`` (an Engine or a store URL) holds what was sent; it defaults
    to the source when that is a store. ``settings`` default to the source engine's (the
    shop's name, templates, coupon pools...), without its outbox directory. ``store`` is the
    scratch store (":memory:", or a file to look into afterwards). ``progress(fraction)`` is
    called as the replay's clock moves."""
    candidates = [coerce_flow(f) for f in flows] if flows is not None else [default_flow()]
    if not candidates:
        raise _config_error("flows: no candidate flow to replay against", "flows")
    span = parse_tail(tail)
    for name, when in (("since", since), ("until", until)):
        if when is not None:
            to_ms(when, name)  # a naive time is a ValidationError naming it
    opened: list[Engine] = []
    try:
        original = _as_engine(source, opened)
        compare = original if compare_with is None else _as_engine(compare_with, opened)
        if settings is None:
            known = original if original is not None else compare
            settings = known.settings if known is not None else {}
        events, skipped = _load(source if original is None else original, since, until)
        if not events:
            return ReplayResult(0, dict(skipped), None, None)
        start, end = events[0].at, events[-1].at + span
        scratch_settings = {k: v for k, v in settings.items() if k not in _NOT_COPIED}
        clock = ManualClock(start)
        scratch = Engine(store=store, flows=candidates, clock=clock, settings=scratch_settings,
                         channels={name: OutboxChannel()
                                   for name in _channel_names(candidates, scratch_settings)})
        opened.append(scratch)
        _Replayer(scratch, clock, _shortest_abandon_ms(candidates), start, end, progress).run(events)
        carts = sorted({e.event["cart_id"] for e in events if isinstance(e.event.get("cart_id"), str)})
        return _compare(scratch, compare, len(events), skipped, start, end, carts)
    finally:
        for engine in opened:
            engine.close()


def _as_engine(source: Any, opened: list[Engine]) -> Engine | None:
    if isinstance(source, Engine):
        return source
    if isinstance(source, str) and "://" in source:
        # Opening a SQLite URL creates the file: a typo would replay a new, empty store.
        if source.startswith("sqlite:///") and not os.path.exists(source[len("sqlite:///"):]):
            err = _core.StoreError(f"no store at {source[len('sqlite:///'):]}")
            err.field = "store"
            raise err
        engine = Engine(store=source)
        opened.append(engine)
        return engine
    return None


def _load(source: Any, since: datetime | None, until: datetime | None) -> tuple[list[_Event], Counter]:
    if isinstance(source, Engine):
        items = (_Event(e["at"], e, f"event {i} of the store")
                 for i, e in enumerate(source.events(since=since, until=until), 1))
    elif isinstance(source, (str, os.PathLike)):
        items = _read_file(source)
    else:
        items = (_checked(e, f"[{i}]") for i, e in enumerate(source))
    kept: list[_Event] = []
    skipped: Counter = Counter()
    for e in items:
        if since is not None and e.at < since or until is not None and e.at >= until:
            continue
        if e.event["type"] in ENGAGEMENT:
            skipped[e.event["type"]] += 1
        else:
            kept.append(e)
    kept.sort(key=lambda e: e.at)  # stable: events at one time keep their order
    return kept, skipped


class _Replayer:
    """Feeds events in time order and stops the clock at every due job.

    Events at the time a job falls due go in before it runs, as a live worker would find
    them. Events go in batches: by S1 and S3 (PLAYBOOKS section 7) anything an event
    schedules (an abandonment, a step pushed back by activity) is due no sooner than the
    shortest abandon_after after it, so no job can fall due inside a batch that spans less
    than that. The one exception, an open or a click making a branch due at once (S2), is
    never replayed."""

    def __init__(self, engine: Engine, clock: ManualClock, horizon_ms: int, start: datetime,
                 end: datetime, progress: Callable[[float], None] | None):
        self.engine, self.clock, self.progress = engine, clock, progress
        self.horizon = timedelta(milliseconds=horizon_ms)
        self.start, self.end = start, end

    def run(self, events: list[_Event]) -> None:
        i, n = 0, len(events)
        while i < n:
            t = events[i].at
            next_job = self._run_jobs_before(t)
            j = i + 1
            while (j < n and j - i < _BATCH and events[j].at - t < self.horizon
                   and (next_job is None or events[j].at <= next_job)):
                j += 1
            self._move_to(events[j - 1].at)
            self._track(events[i:j])
            self.engine.run_due()  # what fell due at this very time
            i = j
        self._run_jobs_before(self.end, inclusive=True)
        self._move_to(self.end)

    def _run_jobs_before(self, limit: datetime, inclusive: bool = False) -> datetime | None:
        """Runs every job due before ``limit``, each at its due time; returns the next one."""
        while True:
            self.engine.flush()  # status() reads the store: the writer's queue first
            due = self.engine.status()["next_due"]
            if due is None or due > limit or due == limit and not inclusive:
                return due
            self._move_to(due)
            self.engine.run_due()

    def _move_to(self, when: datetime) -> None:
        if when > self.clock.now():
            self.clock.set(when)
            if self.progress and self.end > self.start:
                self.progress((when - self.start) / (self.end - self.start))

    def _track(self, batch: list[_Event]) -> None:
        try:
            self.engine.track_many([e.event for e in batch])
        except _core.ValidationError as e:
            # "[3].items[0].price" -> the event's own place in the source.
            inner = getattr(e, "field", None) or ""
            index, _, rest = inner.partition("].")
            if index.startswith("[") and index[1:].isdigit() and int(index[1:]) < len(batch):
                message = str(e).split(": ", 1)[-1]
                raise _invalid(batch[int(index[1:])].where, rest, message) from None
            raise


def _compare(scratch: Engine, original: Engine | None, events: int, skipped: Counter,
             start: datetime, end: datetime, carts: list[str]) -> ReplayResult:
    by = ("flow", "step", "channel")
    would_rows = [r for r in scratch.report(by=by) if r["flow"] != "exit_intent"]
    was_rows = None
    if original is not None:
        # Popups are not replayed: their orders stay out of both sides.
        was_rows = [r for r in original.report(since=start, until=end, by=by) if r["flow"] != "exit_intent"]
    key = lambda r: (r["flow"], int(r["step"]), r["channel"])  # noqa: E731
    would_sent = {key(r): r["sent"] for r in would_rows}
    was_sent = {key(r): r["sent"] for r in was_rows} if was_rows is not None else {}
    steps = [StepCount(k[0], k[1], k[2], was_sent.get(k, 0) if was_rows is not None else None,
                       would_sent.get(k, 0))
             for k in sorted(set(would_sent) | set(was_sent))]
    return ReplayResult(
        events=events, skipped=dict(skipped), start=start, end=end, steps=steps,
        would=_totals(scratch, would_rows, start, end, carts),
        was=_totals(original, was_rows, start, end, carts) if original is not None else None,
        report=scratch.report(by=("flow", "path", "step", "channel")))


def _totals(engine: Engine, rows: list[dict], start: datetime, end: datetime,
            carts: list[str]) -> Totals:
    currencies = {r["currency"] for r in rows if r["currency"]}
    return Totals(journeys=_journeys_started(engine, start, end, carts),
                  sent=sum(r["sent"] for r in rows), orders=sum(r["orders"] for r in rows),
                  revenue=sum((r["revenue"] for r in rows), Decimal("0")),
                  currency=currencies.pop() if len(currencies) == 1 else ("MIXED" if currencies else None))


def _journeys_started(engine: Engine, start: datetime, end: datetime, carts: list[str]) -> int:
    # No journey listing in the API: each cart tells its latest journey (one cart left again
    # after a finished journey shows only the newer), a refused one never started, and a
    # journey that moved to the contact's newer cart counts once.
    started = set()
    for cart_id in carts:
        cart = engine.cart(cart_id)
        journey = cart["journey"] if cart else None
        if journey and journey["state"] != "refused" and start <= journey["started_at"] < end:
            started.add(journey["journey_id"])
    return len(started)


__all__ = ["ENGAGEMENT", "ReplayResult", "StepCount", "Totals", "export_events", "load_flows",
           "parse_tail", "read_events", "replay"]
