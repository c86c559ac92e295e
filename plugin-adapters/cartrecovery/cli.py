"""The cartrecovery command line.

    cartrecovery simulate   a day of synthetic traffic through the real engine (the demo)
    cartrecovery status     is the scheduler alive? jobs due, the oldest overdue one
    cartrecovery worker     run the worker in the foreground until Ctrl-C
    cartrecovery report     what was sent and what came back, by flow/step/channel;
                            --html FILE also writes the report with its charts
    cartrecovery send-test  the real first reminder for a sample cart, through --smtp (R6.2)
    cartrecovery import-coupons  codes from a CSV file into an imported pool (R4.2)
    cartrecovery replay     what candidate flows would have sent for the stored history
    cartrecovery export-events  the event log as JSON Lines (for replays elsewhere)

Every command but simulate is the one `manage.py cartrecovery` and `flask cartrecovery` run
(cartrecovery.web.commands), with the same flags; here --store (and, for the worker and
send-test, --smtp and friends) say what the shop's settings say there.

SMTP passwords come from the CARTRECOVERY_SMTP_PASSWORD environment variable, never from
the command line (where `ps` would show them).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from . import _core
from .channels import OutboxChannel, SmtpChannel
from .engine import Engine
from .flows import Flow
from .web import commands


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


def _service_config(args: argparse.Namespace):
    """The worker's and status's settings: --set and the flags (command line) over
    CARTRECOVERY_<KEY> over --config FILE over defaults (service.py, Poco's layers)."""
    from .service import load_service_config

    sets = list(getattr(args, "set", None) or [])
    # The flags are command-line values like --set, given after it so they win.
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
                        ("smtp_connections", "smtp_connections"), ("sender", "smtp_sender")):
        if getattr(args, option, None):
            sets.append(f"{key}={getattr(args, option)}")
    return load_service_config(getattr(args, "config", None), sets)


class _Context(commands.Context):
    """The engine a command line names: --store, and for the worker and send-test the
    flows and SMTP server given as flags. Opened on first use, closed after the command."""

    def __init__(self, args: argparse.Namespace):
        self._config = _service_config(args) if args.command in ("worker", "status") else None
        super().__init__(engine=self._engine, store=self._config.store if self._config else args.store,
                         out=print, err=lambda text: print(text, file=sys.stderr))
        self._args = args
        self._opened: Engine | None = None

    def _engine(self) -> Engine:
        if self._opened is None:
            self._opened = self._open(self._args, self._config)
        return self._opened

    @staticmethod
    def _open(args: argparse.Namespace, config=None) -> Engine:
        if args.command == "send-test":
            # A scratch store: a test message leaves nothing behind in the shop's.
            smtp = _smtp_from_args(args)
            return Engine(store=":memory:", channels={"email": smtp} if smtp else None,
                          settings={"shop_name": args.shop_name})
        if args.command == "worker":
            return config.engine()
        if args.command == "status":
            # A health check never creates the store it checks: a typo must fail, not pass.
            return Engine(store=commands.existing_store(config.store, "store"),
                          flows=config.flows or None, settings=config.settings)
        if args.command in ("import-coupons", "export-events", "export", "forget"):
            return Engine(store=commands.existing_store(args.store))
        return Engine(store=args.store)

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()


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
    print(commands.table(r.report, ["path", "step", "channel", "sent", "suppressed", "opened", "clicked",
                         "orders", "revenue"]))
    print()
    print(f"  scheduler: {'healthy' if r.status['healthy'] else 'NOT healthy: ' + '; '.join(r.status['problems'])}"
          f", {r.status['jobs_pending']} jobs pending")
    if args.outbox:
        print(f"  e-mails written to {args.outbox}/ (.eml)")
    return 0


def build_parser() -> argparse.ArgumentParser:
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

    # The operator's commands, shared with manage.py and flask (web/commands.py); the
    # command line has no settings, so it adds --store and what builds the engine.
    for name, p in commands.add_subcommands(sub).items():
        if name in ("worker", "status"):
            # Layered settings: --set over CARTRECOVERY_<KEY> over --config over defaults.
            p.add_argument("--store", default=None,
                           help="default: the config, CARTRECOVERY_STORE, sqlite:///recovery.db")
            p.add_argument("--config", metavar="FILE", help="a .properties or .ini file of settings")
            p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                           help="a setting, over the file and CARTRECOVERY_<KEY> (repeatable)")
        else:
            p.add_argument("--store", default=store_default)
        if name == "send-test":
            p.add_argument("--shop-name", default="Our shop")
            _add_smtp_args(p)
        if name == "worker":
            p.add_argument("--shop-name", default=None)
            p.add_argument("--smtp", metavar="HOST:PORT", help="send e-mail through this SMTP server")
            p.add_argument("--smtp-security", choices=["starttls", "ssl", "plain"], default=None)
            p.add_argument("--smtp-user", default=None)
            p.add_argument("--smtp-connections", default=None, metavar="N",
                           help="SMTP sessions sending at once (default 4)")
            p.add_argument("--sender", default=None)
            p.add_argument("--flow", action="append", default=[], help="a flow JSON file (repeatable)")
            p.add_argument("--base-url", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "simulate":
            return cmd_simulate(args)
        ctx = _Context(args)
        try:
            return commands.run(commands.find(args.command), ctx, vars(args))
        finally:
            ctx.close()
    except commands.CommandFailed as e:
        print(f"cartrecovery {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except _core.Error as e:
        print(f"cartrecovery {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
