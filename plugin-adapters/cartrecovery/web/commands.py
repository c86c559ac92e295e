"""The operator's commands, written once for the three front doors:

    cartrecovery <command> --store URL ...      (the CLI: no settings, so it adds --store and
                                                 the engine options: --smtp, --flow, ...)
    python manage.py cartrecovery <command> ...  (Django: the engine of settings.CARTRECOVERY)
    flask cartrecovery <command> ...             (Flask: the engine of app.config)

Same command names, same flags, same output. Each command is a ``Command``: its options,
and a ``run(ctx, options)`` that prints through ``ctx`` and returns the exit code. The
front doors only build a ``Context`` (where the engine comes from, where output goes) and
translate the options: argparse for the CLI and Django, click for Flask.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from .. import _core


class CommandFailed(Exception):
    """A command that cannot go on: the message to print and the exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Context:
    """What a command runs against. ``engine()`` opens (or returns) the engine; ``store`` is
    its URL (replay reads the history from it); ``out``/``err`` print a line; ``stop`` ends a
    running worker (the front door wires SIGINT/SIGTERM to it when None)."""
    engine: Callable[[], Any]
    store: str
    out: Callable[[str], None]
    err: Callable[[str], None]
    stop: threading.Event | None = None


@dataclass(frozen=True)
class Option:
    flag: str                       # "--to"
    help: str = ""
    required: bool = False
    default: Any = None
    is_flag: bool = False           # a switch (store_true)
    metavar: str | None = None
    choices: tuple[str, ...] | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Command:
    name: str                       # "import-coupons"; Django also takes "import_coupons"
    help: str
    run: Callable[[Context, dict], int]
    options: tuple[Option, ...] = field(default_factory=tuple)


# ---- helpers -----------------------------------------------------------------------------
def table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "  (nothing yet)"
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  " + "  ".join(v.rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def parse_time(text: str | None, option: str) -> datetime | None:
    """ISO-8601; a date, or a time without an offset, is UTC."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        err = _core.ValidationError(f"{option}: {text!r} is not an ISO-8601 date or time")
        err.field = option
        raise err from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def existing_store(url: str, option: str = "--store") -> str:
    # Opening a SQLite URL creates the file: a typo would read an empty, new store.
    path = (url[len("sqlite:///"):] if url.startswith("sqlite:///")
            else None if "://" in url or url == ":memory:" else url)  # a plain path is a file too
    if path is not None and path != ":memory:" and not os.path.exists(path):
        err = _core.StoreError(f"{option}: no store at {path}")
        err.field = option
        raise err
    return url


def report_output(engine: Any, since: datetime | None = None, until: datetime | None = None,
                  by: list[str] | None = None, as_json: bool = False) -> str:
    """Messages by ``by``, the checkout-stage funnel and the visitors' lead temperature."""
    by = list(by if by is not None else ["flow", "step", "channel"])
    rows = engine.report(since=since, until=until, by=by)
    funnel = engine.funnel(since=since, until=until)
    leads = engine.leads(since=since, until=until)
    if as_json:
        return json.dumps({"messages": rows, "funnel": funnel, "leads": leads},
                          default=lambda v: str(v) if isinstance(v, Decimal) else v, indent=2)
    for r in rows:
        r["ctr"] = f"{100 * r['ctr']:.1f}%"
    return "\n".join([
        table(rows, by + ["sent", "delivered", "failed", "suppressed", "opened", "clicked", "ctr",
                          "orders", "orders_with_coupon", "revenue"]),
        "", "  where carts were left (checkout stage):",
        table(funnel, ["stage", "carts", "abandoned", "recovered"]),
        "", f"  visitors: {leads['hot']} hot (a cart), {leads['warm']} warm (browsed products),"
            f" {leads['cold']} cold"])


def _write_atomically(path: str, document: str) -> None:
    # Written beside the target and renamed over it: a reader never sees half a file.
    fd, partial = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(document)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # as open() would make it, not mkstemp's 0600
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise


# ---- the commands ------------------------------------------------------------------------
def run_status(ctx: Context, o: dict) -> int:
    s = ctx.engine().status()
    if o["json"]:
        ctx.out(json.dumps(s, default=str, indent=2))
        return 0 if s["healthy"] else 2
    now, last = s["now"], s["worker_last_run"]
    ago = f"{int((now - last).total_seconds())}s ago by {s['worker_last_id']}" if last else "never"
    lines = [f"store          {ctx.store} (schema {s['schema_version']})",
             f"worker         last ran {ago}",
             f"jobs           {s['jobs_due']} due, {s['jobs_pending']} pending"
             + (f", next at {s['next_due']:%Y-%m-%d %H:%M:%S} UTC" if s["next_due"] else "")]
    if s["oldest_due"]:
        lines.append(f"oldest overdue {s['oldest_due']:%Y-%m-%d %H:%M:%S} UTC "
                     f"({int((now - s['oldest_due']).total_seconds())}s late)")
    lines.append(f"journeys       {s['running_journeys']} running")
    lines.append(f"messages       {s['messages_sent']} sent, {s['messages_failed']} failed")
    for flow in s["flows"]:
        if flow["status"] != "paused":
            continue
        why = [f"{w['reason']} ({w['messages']} waiting)" for w in flow["paused"]
               if w["reason"] != "flow_paused" or flow["paused_by_staff"]]
        if flow["paused_by_staff"]:
            why.insert(0, f"by staff: {flow['paused_by_staff']['reason']}")
        lines.append(f"paused flow    {flow['name']}: {'; '.join(why)}")
    if s["last_error"]:
        lines.append(f"last error     {s['last_error']}")
    lines.append("health         " + ("OK" if s["healthy"] else "PROBLEM: " + "; ".join(s["problems"])))
    ctx.out("\n".join(lines))
    return 0 if s["healthy"] else 2


def run_worker(ctx: Context, o: dict) -> int:
    engine = ctx.engine()
    if o["once"]:
        # For cron and tests: everything due now, then exit (with a ManualClock, "now" is
        # the clock's time).
        ctx.out(f"ran {engine.run_due()} due jobs")
        engine.flush()
        return 0
    stop = ctx.stop
    previous = {}
    if stop is None:
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    engine.start()
    ctx.err(f"cartrecovery worker running on {ctx.store}; SIGTERM or Ctrl-C stops it")
    try:
        while not stop.wait(1.0):  # a timed wait, so a signal handler always gets to run
            pass
    finally:
        # Stop() finishes the reminder in hand and hands every other claimed job back.
        engine.stop()
        engine.flush()
        for sig, handler in previous.items():  # the caller's handlers again
            signal.signal(sig, handler)
    ctx.err("worker stopped cleanly")
    return 0


def run_report(ctx: Context, o: dict) -> int:
    html_path = os.path.abspath(o["html"]) if o["html"] else None
    if html_path is not None:
        # Checked before any work, so a typo costs nothing and leaves nothing behind.
        problem = (f"{o['html']} is a directory; name the file to write" if os.path.isdir(html_path)
                   else None if os.path.isdir(os.path.dirname(html_path))
                   else f"the directory {os.path.dirname(html_path)} does not exist")
        if problem:
            raise CommandFailed(f"--html: {problem}")
    since, until = parse_time(o["since"], "--since"), parse_time(o["until"], "--until")
    engine = ctx.engine()
    ctx.out(report_output(engine, since, until, [b for b in o["by"].split(",") if b], o["json"]))
    if html_path is not None:
        from ..report_html import render_report

        _write_atomically(html_path, render_report(engine, since, until))
        ctx.err(f"wrote {html_path}")  # stderr: --json output on stdout stays one document
    return 0


def run_send_test(ctx: Context, o: dict) -> int:
    engine = ctx.engine()
    channel = o["channel"]
    # The engine's own channels; none bound means the outbox, which sends nothing anywhere.
    bound = getattr(engine, "_channels", {}).get(channel)
    if bound is None:
        raise CommandFailed(f"no {channel!r} channel to send through: the outbox keeps messages in "
                            "the store and sends nothing (set CHANNELS in the shop's settings, "
                            "or --smtp on the command line)")
    try:
        # The real reminder for a sample cart, so the shop sees what shoppers will (R6.2).
        engine.send_test(channel, o["to"], template=o["template"], language=o["language"])
    except _core.DeliveryError as e:
        raise CommandFailed(f"not sent ({'transient' if e.transient else 'permanent'}): {e}") from None
    ctx.out(f"sent the {o['template'] or 'first reminder'} as a test to {o['to']} through {bound.describe()}")
    return 0


def run_import_coupons(ctx: Context, o: dict) -> int:
    from ..simulate import progress_bar

    path, pool = o["csv"], o["pool"]
    if not os.path.isfile(path):
        raise CommandFailed(f"--csv: no file at {path}")
    column = int(o["column"]) if o["column"].isdigit() else o["column"]
    size = max(os.path.getsize(path), 1)
    bar = progress_bar(label="importing")
    report = ctx.engine().import_coupons(pool, path, column=column, progress=lambda n: bar(n / size))
    lines = [f"imported {report['imported']} codes into {pool}"
             f" ({report['already_known']} already known, {report['duplicates_in_file']} repeated"
             f" in the file, {report['bad_row_count']} bad rows)"]
    lines += [f"  line {line}: {reason} {detail}".rstrip() for line, reason, detail in report["bad_rows"][:20]]
    ctx.out("\n".join(lines))
    return 0


def run_replay(ctx: Context, o: dict) -> int:
    from ..replay import load_flows, replay
    from ..simulate import progress_bar

    try:
        flows = load_flows(o["flows"])
        since, until = parse_time(o["since"], "--since"), parse_time(o["until"], "--until")
        store = existing_store(ctx.store)
        # With --events the file is the history and the store says what was sent.
        source, compare = (o["events"], store) if o["events"] else (store, None)
        result = replay(source, flows, since=since, until=until, tail=o["tail"],
                        compare_with=compare, progress=progress_bar())
    except (_core.Error, ValueError) as e:
        raise CommandFailed(str(e), 2) from None
    except OSError as e:
        raise CommandFailed(f"{e.filename}: {e.strerror}", 2) from None
    ctx.out(json.dumps(result.to_dict(), indent=2) if o["json"] else result.summary())
    return 0


def run_export_events(ctx: Context, o: dict) -> int:
    from ..replay import export_events

    try:
        since, until = parse_time(o["since"], "--since"), parse_time(o["until"], "--until")
        existing_store(ctx.store)
        count = export_events(ctx.engine(), o["out"], since=since, until=until)
    except _core.Error as e:
        raise CommandFailed(str(e), 2) from None
    except OSError as e:
        raise CommandFailed(f"{e.filename}: {e.strerror}", 2) from None
    ctx.out(f"exported {count} events to {o['out']}")
    return 0


def run_export(ctx: Context, o: dict) -> int:
    """Everything stored about a person, as JSON (GDPR Article 15)."""
    ctx.out(json.dumps(ctx.engine().export(email=o["email"], phone=o["phone"]), indent=2,
                       ensure_ascii=False))
    return 0


def run_forget(ctx: Context, o: dict) -> int:
    """Erases a person's data (GDPR Article 17); the summary names no address."""
    erased = ctx.engine().forget(email=o["email"], phone=o["phone"])
    ctx.out("erased: " + ", ".join(f"{t} {n}" for t, n in sorted(erased.items())) if erased
            else "nobody is stored under that address or number; nothing to erase")
    return 0


_PERSON = (Option("--email", "the person's e-mail address"), Option("--phone", "the person's phone (E.164)"))

_SINCE = Option("--since", "ISO-8601 date or time (UTC when without an offset)")
_UNTIL = Option("--until", "ISO-8601, exclusive")
_JSON = Option("--json", "print JSON", is_flag=True)

COMMANDS: tuple[Command, ...] = (
    Command("status", "is the scheduler alive? (exit 2 when not)", run_status, (_JSON,)),
    Command("worker", "run the reminder worker until Ctrl-C (--once: what is due now, then exit)",
            run_worker, (Option("--once", "run what is due now once, then exit", is_flag=True),)),
    Command("report", "sent, opened, clicked, orders and revenue", run_report, (
        _SINCE, _UNTIL, Option("--by", "columns to group by", default="flow,step,channel"), _JSON,
        Option("--html", "also write the report with its charts as one HTML file", metavar="PATH"))),
    Command("send-test", "send the real first reminder for a sample cart to yourself (R6.2)",
            run_send_test, (
                Option("--to", "your address", required=True),
                Option("--channel", "the channel to send through", default="email"),
                Option("--template", "template name (default: the first reminder)"),
                Option("--language", "e.g. de, pl (default: the shop's)"))),
    Command("import-coupons", "codes from a CSV file into an imported coupon pool (R4.2)",
            run_import_coupons, (
                Option("--pool", "an imported pool, as the shop's coupon_pools define it", required=True),
                Option("--csv", "the CSV file", required=True, metavar="FILE.csv"),
                Option("--column", "a header name, or a 0-based column number", default="0"))),
    Command("replay", "what candidate flows would have sent for the stored history", run_replay, (
        Option("--flows", "one flow or an array of flows", required=True, metavar="FILE.json"),
        Option("--events", "replay this export (.jsonl, .json, .csv) instead", metavar="FILE"),
        _SINCE, _UNTIL, Option("--tail", "run on this long after the last event", default="7d"), _JSON)),
    Command("export", "everything stored about a person, as JSON (GDPR Art. 15)", run_export, _PERSON),
    Command("forget", "erase a person's data everywhere, keeping anonymous counts (GDPR Art. 17)",
            run_forget, _PERSON),
    Command("export-events", "write the event log as JSON Lines", run_export_events, (
        Option("--out", "the file to write", required=True, metavar="FILE.jsonl"), _SINCE, _UNTIL)),
)
BY_NAME = {c.name: c for c in COMMANDS}


def find(name: str) -> Command:
    return BY_NAME[name.replace("_", "-")]


# ---- front doors -------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser, command: Command) -> None:
    """The command's options on an argparse parser (the CLI, Django's CommandParser)."""
    for opt in command.options:
        if opt.is_flag:
            parser.add_argument(opt.flag, action="store_true", help=opt.help)
        else:
            parser.add_argument(opt.flag, required=opt.required, default=opt.default,
                                metavar=opt.metavar, choices=opt.choices, help=opt.help)


def add_subcommands(sub, aliases: bool = False) -> dict[str, argparse.ArgumentParser]:
    """One parser per command on ``sub`` (what ``parser.add_subparsers()`` returned);
    ``aliases`` adds the snake_case names Django users type (``import_coupons``)."""
    out = {}
    for command in COMMANDS:
        names = [command.name.replace("-", "_")] if aliases and "-" in command.name else []
        p = sub.add_parser(command.name, help=command.help, aliases=names)
        add_arguments(p, command)
        out[command.name] = p
    return out


def options_of(command: Command, values: dict) -> dict:
    """Only the command's own options, defaults filled in (front doors pass more)."""
    return {opt.dest: values.get(opt.dest, False if opt.is_flag else opt.default) for opt in command.options}


def run(command: Command, ctx: Context, values: dict) -> int:
    """Runs a command; ``CommandFailed`` and ``cartrecovery.Error`` are for the front door
    to print (each has its own way to fail)."""
    return command.run(ctx, options_of(command, values))
