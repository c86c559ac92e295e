"""manage.py cartrecovery worker | report | import_coupons | send_test | export | forget"""
from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from cartrecovery import _core, web
from cartrecovery.django import config, engine, reset


class Command(BaseCommand):
    help = "Abandoned-cart recovery: run the worker, print the report, import coupons, send a test."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("worker", help="run the reminder worker until Ctrl-C")
        p = sub.add_parser("report", help="sent, opened, clicked, orders and revenue")
        p.add_argument("--by", default="flow,step,channel")
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("import_coupons", help="import coupon codes from a CSV into a pool")
        p.add_argument("pool")
        p.add_argument("csv_path")
        p = sub.add_parser("send_test", help="send one test message through the configured channel")
        p.add_argument("--to", required=True)
        p.add_argument("--channel", default="email")
        for name, text in (("export", "everything stored about a person, as JSON"),
                           ("forget", "erase a person's data everywhere, keeping anonymous counts")):
            p = sub.add_parser(name, help=text)
            p.add_argument("--email", default=None)
            p.add_argument("--phone", default=None)

    def handle(self, *args, action, **options):
        try:
            if action == "worker":
                stop = threading.Event()
                previous = {sig: signal.signal(sig, lambda *_: stop.set())
                            for sig in (signal.SIGINT, signal.SIGTERM)}
                try:
                    web.run_worker(engine(), config(), stop, lambda s: self.stderr.write(s))
                finally:
                    reset()
                    for sig, handler in previous.items():  # the caller's handlers again
                        signal.signal(sig, handler)
            elif action == "report":
                self.stdout.write(web.report_text(engine(), options["by"], options["json"]))
            elif action == "import_coupons":
                self.stdout.write(web.import_coupons(engine(), options["pool"], options["csv_path"]))
            elif action == "export":
                self.stdout.write(web.export_person_text(engine(), options["email"], options["phone"]))
            elif action == "forget":
                self.stdout.write(web.forget_person_text(engine(), options["email"], options["phone"]))
            elif action == "send_test":
                described = web.send_test(config(), options["to"], options["channel"])
                self.stdout.write(f"sent a test message to {options['to']} through {described}")
        except _core.Error as e:
            raise CommandError(f"{type(e).__name__}: {e}") from None
