"""The cartrecovery command line.

    cartrecovery simulate   a day of synthetic traffic through the real engine (the demo)
    cartrecovery status     is the scheduler alive? jobs due, the oldest overdue one
    cartrecovery worker     run the worker until SIGTERM/Ctrl-C (--once: what is due, for cron);
                            settings from --config FILE, CARTRECOVERY_<KEY> and --set key=value
    cartrecovery report     what was sent and what came back, by flow/step/channel;
                            --html FILE also writes the report with its charts
    cartrecovery send-test  send one test e-mail through an SMTP server (R6.2)
    cartrecovery import-coupons  codes from a CSV file into an imported pool (R4.2)
    cartrecovery replay     what candidate flows would have sent for the stored history
    cartrecovery export-events  the event log as JSON Lines (for replays elsewhere)
    cartrecovery export     everything stored about a person (--email/--phone), as JSON
    cartrecovery forget     erase a person's data everywhere, keeping anonymous counts

SMTP passwords come from the CARTRECOVERY_SMTP_PASSWORD environment variable, never from
the command line (where `ps` would show them).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
from datetime import datetime, timezone
from decimal import Decimal

from . import _core
from .channels import OutboxChannel, SmtpChannel
from .engine import Engine
from .flows import Flow


def _smtp_from_args(args) -> SmtpChannel | None:
    if not getattr(args, "smtp", None):
        return None
    host, _, port = args.smtp.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"--smtp: expected HOST:PORT, got {args.smtp!r}")
    security = args.smtp_security
    return SmtpChannel(host, int(port), username=args.smtp_user,
                       password=os.environ.get("CARTRECOVERY_SMTP_PASSWORD"),
                       starttls=security == "starttls", ssl=security == "ssl",
                       sender=args.sender)


def _add_smtp_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smtp", metavar="HOST:PORT", help="send e-mail through this SMTP server")
    p.add_argument("--smtp-security", choices=["starttls", "ssl", "plain"], default="starttls")
    p.add_argument("--smtp-user", default=None)
    p.add_argument("--sender", default="Kite Shop <shop@kite.example>")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="a .properties or .ini file of settings")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting, over the file and CARTRECOVERY_<KEY> (repeatable)")


def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "  (nothing yet)"
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  " + "  ".join(v.rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def cmd_simulate(args) -> int:
    from .simulate import Simulation, progress_bar

    if args.store.startswith("sqlite:///") and not args.keep:
        path = args.store[len("sqlite:///"):]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    also = _smtp_from_args(args) or (OutboxChannel(args.outbox) if args.outbox else None)
    print(f"cartrecovery simulate: {args.shoppers} shoppers over one day, then {args.days} days "
          f"of reminders, store {args.store}")
    sim = Simulation(args.store, shoppers=args.shoppers, seed=args.seed, also=also)
    try:
        r = sim.run(days_after=args.days, progress=progress_bar())
    finally:
        sim.close()
    pct = lambda a, b: f"{100 * a / b:.0f}%" if b else "-"  # noqa: E731
    print()
    print(f"  shoppers              {r.shoppers}")
    print(f"  carts                 {r.carts}")
    print(f"  bought at once        {r.bought_at_once}")
    print(f"  abandoned             {r.abandoned}  ({r.abandoned_with_contact} with an e-mail to write to)")
    print(f"  reminders sent        {r.reminders}")
    print(f"  opened / clicked      {r.opened} / {r.clicked}  ({pct(r.opened, r.reminders)} / {pct(r.clicked, r.reminders)})")
    print(f"  recovered orders      {r.recovered_orders}  ({pct(r.recovered_orders, r.abandoned_with_contact)} of those)")
    print(f"  recovered revenue     {r.recovered_revenue} EUR")
    print()
    print("  by path and step:")
    print(_table(r.report, ["path", "step", "channel", "sent", "suppressed", "opened", "clicked",
                            "orders", "revenue"]))
    print()
    print(f"  scheduler: {'healthy' if r.status['healthy'] else 'NOT healthy: ' + '; '.join(r.status['problems'])}"
          f", {r.status['jobs_pending']} jobs pending")
    if args.outbox:
        print(f"  e-mails written to {args.outbox}/ (.eml)")
    return 0


def cmd_status(args) -> int:
    config = _service_config(args)
    # A health check never creates the store it checks: a typo must fail, not pass.
    store = _existing_store(config.store, "store")
    engine = Engine(store=store, flows=config.flows or None, settings=config.settings)
    try:
        s = engine.status()
    finally:
        engine.close()
    if args.json:
        print(json.dumps(s, default=str, indent=2))
    else:
        now = s["now"]
        last = s["worker_last_run"]
        ago = f"{int((now - last).total_seconds())}s ago by {s['worker_last_id']}" if last else "never"
        print(f"store          {store} (schema {s['schema_version']})")
        print(f"worker         last ran {ago}")
        print(f"jobs           {s['jobs_due']} due, {s['jobs_pending']} pending"
              + (f", next at {s['next_due']:%Y-%m-%d %H:%M:%S} UTC" if s["next_due"] else ""))
        if s["oldest_due"]:
            print(f"oldest overdue {s['oldest_due']:%Y-%m-%d %H:%M:%S} UTC "
                  f"({int((now - s['oldest_due']).total_seconds())}s late)")
        print(f"journeys       {s['running_journeys']} running")
        print(f"messages       {s['messages_sent']} sent, {s['messages_failed']} failed")
        for flow in s["flows"]:
            if flow["status"] != "paused":
                continue
            why = [f"{w['reason']} ({w['messages']} waiting)" for w in flow["paused"]
                   if w["reason"] != "flow_paused" or flow["paused_by_staff"]]
            if flow["paused_by_staff"]:
                why.insert(0, f"by staff: {flow['paused_by_staff']['reason']}")
            print(f"paused flow    {flow['name']}: {'; '.join(why)}")
        if s["last_error"]:
            print(f"last error     {s['last_error']}")
        print("health         " + ("OK" if s["healthy"] else "PROBLEM: " + "; ".join(s["problems"])))
    return 0 if s["healthy"] else 2


def _service_config(args):
    """The worker's and status's settings: --set and the legacy options (command line) over
    CARTRECOVERY_* over --config FILE over defaults (service.py)."""
    from .service import load_service_config

    sets = list(getattr(args, "set", None) or [])
    # The older options are command-line values like --set, given after it so they win.
    if getattr(args, "store", None):
        sets.append(f"store={args.store}")
    if getattr(args, "flow", None):
        sets.append("flows=" + ",".join(args.flow))
    if getattr(args, "shop_name", None):
        sets.append(f"shop_name={args.shop_name}")
    if getattr(args, "base_url", None):
        sets.append(f"base_url={args.base_url}")
    if getattr(args, "smtp", None):
        host, _, port = args.smtp.rpartition(":")
        if not host or not port.isdigit():
            raise SystemExit(f"--smtp: expected HOST:PORT, got {args.smtp!r}")
        sets += [f"smtp_host={host}", f"smtp_port={port}"]
    for option, key in (("smtp_security", "smtp_security"), ("smtp_user", "smtp_username"),
                        ("sender", "smtp_sender")):
        if getattr(args, option, None):
            sets.append(f"{key}={getattr(args, option)}")
    return load_service_config(getattr(args, "config", None), sets)


def cmd_worker(args) -> int:
    config = _service_config(args)
    if args.once:
        # For cron: what is due now, then exit. SIGTERM waits for the run to end (it is
        # bounded by what is due); nothing claimed is left behind.
        engine = config.engine()
        try:
            ran = engine.run_due()
        finally:
            engine.close()
        print(f"cartrecovery worker --once: ran {ran} jobs on {config.store}", file=sys.stderr)
        return 0
    engine = config.engine()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        engine.start()
        print(f"worker {engine._native.worker_id} running on {config.store}; SIGTERM or Ctrl-C stops it",
              file=sys.stderr, flush=True)
        while not stop.wait(1.0):  # a timed wait, so the handler always gets to run
            pass
    finally:
        # Stop() finishes the reminder in hand and releases every other claimed job.
        engine.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("worker stopped cleanly", file=sys.stderr, flush=True)
    return 0


def report_output(engine: Engine, since: datetime | None = None, until: datetime | None = None,
                  by: list[str] | None = None, as_json: bool = False) -> str:
    """The report the CLI and the adapters' commands print: messages by `by`, the
    checkout-stage funnel and the visitors' lead temperature."""
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
        _table(rows, by + ["sent", "delivered", "failed", "suppressed", "opened", "clicked", "ctr",
                           "orders", "orders_with_coupon", "revenue"]),
        "", "  where carts were left (checkout stage):",
        _table(funnel, ["stage", "carts", "abandoned", "recovered"]),
        "", f"  visitors: {leads['hot']} hot (a cart), {leads['warm']} warm (browsed products),"
            f" {leads['cold']} cold"])


def cmd_report(args) -> int:
    html_path = os.path.abspath(args.html) if args.html else None
    if html_path is not None:
        # Checked before any work, so a typo costs nothing and leaves nothing behind.
        problem = (f"{args.html} is a directory; name the file to write" if os.path.isdir(html_path)
                   else None if os.path.isdir(os.path.dirname(html_path))
                   else f"the directory {os.path.dirname(html_path)} does not exist")
        if problem:
            print(f"cartrecovery report: --html: {problem}", file=sys.stderr)
            return 1

    since, until = _cli_time(args.since, "--since"), _cli_time(args.until, "--until")
    engine = Engine(store=args.store)
    try:
        print(report_output(engine, since, until, [b for b in args.by.split(",") if b], args.json))
        if html_path is not None:
            from .report_html import render_report

            document = render_report(engine, since, until)
            # Written beside the target and renamed over it: a reader never sees half a file.
            fd, partial = tempfile.mkstemp(prefix=".report-", suffix=".html",
                                           dir=os.path.dirname(html_path))
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(document)
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(partial, 0o666 & ~umask)  # as open() would make it, not mkstemp's 0600
                os.replace(partial, html_path)
            except BaseException:
                os.unlink(partial)
                raise
            # stderr, so that --json output on stdout stays one JSON document.
            print(f"cartrecovery report: wrote {html_path}", file=sys.stderr)
    finally:
        engine.close()
    return 0


def cmd_send_test(args) -> int:
    channel = _smtp_from_args(args)
    if channel is None:
        raise SystemExit("send-test: --smtp HOST:PORT is required")
    engine = Engine(store=":memory:", channels={"email": channel},
                    settings={"shop_name": args.shop_name})
    try:
        # The real first reminder for a sample cart, so the shop sees what shoppers will.
        engine.send_test("email", args.to, template=args.template, language=args.language)
    except _core.DeliveryError as e:
        print(f"not sent ({'transient' if e.transient else 'permanent'}): {e}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    print(f"sent a test message to {args.to} through {channel.describe()}")
    return 0


def cmd_import_coupons(args) -> int:
    from .web import import_coupons

    if not os.path.isfile(args.csv):
        print(f"cartrecovery import-coupons: --csv: no file at {args.csv}", file=sys.stderr)
        return 1
    column = int(args.column) if args.column.isdigit() else args.column
    engine = Engine(store=_existing_store(args.store))
    try:
        print(import_coupons(engine, args.pool, args.csv, column=column))
    finally:
        engine.close()
    return 0


def _cli_time(text: str | None, option: str) -> datetime | None:
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


def _existing_store(url: str, option: str = "--store") -> str:
    # Opening a SQLite URL creates the file: a typo would replay an empty, new store.
    path = (url[len("sqlite:///"):] if url.startswith("sqlite:///")
            else None if "://" in url or url == ":memory:" else url)
    if path is not None and not os.path.exists(path):
        err = _core.StoreError(f"{option}: no store at {path}")
        err.field = option
        raise err
    return url


def cmd_replay(args) -> int:
    from .replay import load_flows, replay
    from .simulate import progress_bar

    try:
        flows = load_flows(args.flows)
        since, until = _cli_time(args.since, "--since"), _cli_time(args.until, "--until")
        store = _existing_store(args.store)
        # With --events the file is the history and the store says what was sent.
        source, compare = (args.events, store) if args.events else (store, None)
        result = replay(source, flows, since=since, until=until, tail=args.tail,
                        compare_with=compare, progress=progress_bar())
    except (_core.Error, ValueError) as e:
        print(f"cartrecovery replay: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"cartrecovery replay: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.summary())
    return 0


def cmd_export_events(args) -> int:
    from .replay import export_events

    try:
        since, until = _cli_time(args.since, "--since"), _cli_time(args.until, "--until")
        engine = Engine(store=_existing_store(args.store))
        try:
            count = export_events(engine, args.out, since=since, until=until)
        finally:
            engine.close()
    except _core.Error as e:
        print(f"cartrecovery export-events: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"cartrecovery export-events: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    print(f"exported {count} events to {args.out}")
    return 0


def cmd_export(args) -> int:
    from .web import export_person_text

    engine = Engine(store=_existing_store(args.store))
    try:
        print(export_person_text(engine, args.email, args.phone))
    finally:
        engine.close()
    return 0


def cmd_forget(args) -> int:
    from .web import forget_person_text

    engine = Engine(store=_existing_store(args.store))
    try:
        print(forget_person_text(engine, args.email, args.phone))
    finally:
        engine.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cartrecovery", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    store_default = os.environ.get("CARTRECOVERY_STORE", "sqlite:///recovery.db")

    p = sub.add_parser("simulate", help="replay a day of synthetic shop traffic")
    p.add_argument("--store", default="sqlite:///demo.db")
    p.add_argument("--shoppers", type=int, default=400)
    p.add_argument("--days", type=int, default=4, help="days of reminders after the traffic day")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--outbox", help="also write every reminder as .eml into this directory")
    p.add_argument("--keep", action="store_true", help="keep an existing store instead of starting afresh")
    _add_smtp_args(p)
    p.set_defaults(fn=cmd_simulate)

    p = sub.add_parser("status", help="is the scheduler alive? (exit 2 when not)")
    p.add_argument("--store", default=None, help="default: the config, CARTRECOVERY_STORE, sqlite:///recovery.db")
    _add_config_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_status)

    p = sub.add_parser("worker", help="run the worker (in the foreground, or --once for cron)")
    p.add_argument("--store", default=None, help="default: the config, CARTRECOVERY_STORE, sqlite:///recovery.db")
    p.add_argument("--flow", action="append", default=[], help="a flow JSON file (repeatable)")
    p.add_argument("--shop-name", default=None)
    p.add_argument("--base-url", default=None)
    p.add_argument("--once", action="store_true", help="run what is due now, then exit (cron)")
    _add_config_args(p)
    p.add_argument("--smtp", metavar="HOST:PORT", help="send e-mail through this SMTP server")
    p.add_argument("--smtp-security", choices=["starttls", "ssl", "plain"], default=None)
    p.add_argument("--smtp-user", default=None)
    p.add_argument("--sender", default=None)
    p.set_defaults(fn=cmd_worker)

    p = sub.add_parser("report", help="sent, opened, clicked, orders and revenue")
    p.add_argument("--store", default=store_default)
    p.add_argument("--since", help="YYYY-MM-DD (UTC)")
    p.add_argument("--until", help="YYYY-MM-DD (UTC), exclusive")
    p.add_argument("--by", default="flow,step,channel")
    p.add_argument("--json", action="store_true")
    p.add_argument("--html", metavar="PATH",
                   help="also write the report with its charts as one self-contained HTML file")
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("send-test", help="send one test e-mail (R6.2)")
    p.add_argument("--to", required=True)
    p.add_argument("--template", default=None, help="template name (default: the first reminder)")
    p.add_argument("--language", default=None, help="e.g. de, pl (default: the shop's)")
    p.add_argument("--shop-name", default="Our shop")
    _add_smtp_args(p)
    p.set_defaults(fn=cmd_send_test)

    p = sub.add_parser("import-coupons", help="codes from a CSV file into an imported coupon pool (R4.2)")
    p.add_argument("--store", default=store_default)
    p.add_argument("--pool", required=True, help="an imported pool, as the shop's coupon_pools define it")
    p.add_argument("--csv", required=True, metavar="FILE.csv")
    p.add_argument("--column", default="0", help="a header name, or a 0-based column number (default 0)")
    p.set_defaults(fn=cmd_import_coupons)

    p = sub.add_parser("replay", help="what candidate flows would have sent for the stored history")
    p.add_argument("--store", default=store_default, help="the history, and what was sent")
    p.add_argument("--flows", required=True, metavar="FILE.json", help="one flow or an array of flows")
    p.add_argument("--events", metavar="FILE", help="replay this export (.jsonl, .json, .csv) instead")
    p.add_argument("--since", help="ISO-8601 (UTC when without an offset)")
    p.add_argument("--until", help="ISO-8601, exclusive")
    p.add_argument("--tail", default="7d", help="run on this long after the last event (default 7d)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_replay)

    p = sub.add_parser("export-events", help="write the event log as JSON Lines")
    p.add_argument("--store", default=store_default)
    p.add_argument("--out", required=True, metavar="FILE.jsonl")
    p.add_argument("--since", help="ISO-8601 (UTC when without an offset)")
    p.add_argument("--until", help="ISO-8601, exclusive")
    p.set_defaults(fn=cmd_export_events)

    for name, fn, text in (("export", cmd_export, "everything stored about a person, as JSON (GDPR Art. 15)"),
                           ("forget", cmd_forget, "erase a person's data everywhere, keeping anonymous counts (Art. 17)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--store", default=store_default)
        p.add_argument("--email", default=None)
        p.add_argument("--phone", default=None, help="E.164, e.g. +48601234567")
        p.set_defaults(fn=fn)

    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except _core.Error as e:
        print(f"cartrecovery {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
