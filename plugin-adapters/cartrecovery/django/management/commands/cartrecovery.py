"""manage.py cartrecovery status | worker | report | send-test | import-coupons | replay |
export-events: the commands of ``cartrecovery.web.commands``, on the engine that
settings.CARTRECOVERY describes (snake_case names work too: ``import_coupons``)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cartrecovery import _core
from cartrecovery.django import config, engine
from cartrecovery.web import commands


class Command(BaseCommand):
    help = "Abandoned-cart recovery: the worker, its health, reports, coupons, a test reminder, replays."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        commands.add_subcommands(sub, aliases=True)

    def handle(self, *args, action, **options):
        ctx = commands.Context(engine=engine, store=config().get("STORE"),
                               out=self.stdout.write, err=self.stderr.write)
        try:
            code = commands.run(commands.find(action), ctx, options)
            engine().flush()  # what the command wrote is committed before the process ends
        except commands.CommandFailed as e:
            raise CommandError(str(e), returncode=e.exit_code) from None
        except _core.Error as e:
            raise CommandError(f"{type(e).__name__}: {e}") from None
        if code:
            raise CommandError(f"{action}: exit status {code}", returncode=code)
