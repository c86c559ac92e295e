"""The hand-written Django "cron" (a management command run every few minutes): scan the Cart
table for carts left more than an hour ago and not reminded, render with Django templates,
send, mark sent. Per-row is how it is usually written (cart.save() per cart, each its own
autocommit transaction); batched marks 500 carts per transaction with one UPDATE.

    FIRE_DB=shop.db python -m fire_peers.cron --mode row|batch     # prints JSON
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta

from fire_peers import shop

BATCH = 500


def run(mode: str) -> int:
    from django.db import transaction
    from django.utils import timezone

    from fire_peers.models import Cart

    now = timezone.now()
    due = Cart.objects.filter(reminded_at__isnull=True, ordered=False,
                              last_activity__lte=now - timedelta(hours=1)).order_by("pk")
    sent = 0
    if mode == "row":
        for cart in due.iterator():
            shop.render_and_send(cart)
            cart.reminded_at = timezone.now()
            cart.save(update_fields=["reminded_at"])
            sent += 1
        return sent
    while True:
        batch = list(due[:BATCH])
        if not batch:
            return sent
        with transaction.atomic():
            for cart in batch:
                shop.render_and_send(cart)
            Cart.objects.filter(pk__in=[c.pk for c in batch]).update(reminded_at=timezone.now())
        sent += len(batch)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["row", "batch"], required=True)
    args = ap.parse_args()
    shop.setup()
    from django.template.loader import get_template
    get_template("fire_peers/reminder.txt")  # process start-up is not the cron's work
    start = time.perf_counter()
    sent = run(args.mode)
    print(json.dumps({"sent": sent, "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
