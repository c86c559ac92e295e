"""Schedules one reminder per cart for a given time, as the shop does when a cart is left
(Huey's task.schedule(eta=...), Celery's apply_async(eta=...)). Imported by module name so the
task names match the consumer's.

    FIRE_DB=... FIRE_HUEY_DB=... python -m fire_peers.enqueue huey --carts N --lead SECONDS

The ETA is `lead` seconds after the imports; the JSON printed says when it was and when the
last task was scheduled.
"""
import argparse
import json
import time
from datetime import datetime, timezone

from fire_peers import shop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("peer", choices=["huey", "celery"])
    ap.add_argument("--carts", type=int, required=True)
    ap.add_argument("--lead", type=float, required=True, help="seconds from now to the ETA")
    args = ap.parse_args()
    if args.peer == "huey":
        from fire_peers.huey_app import send_reminder
        schedule = send_reminder.schedule
    else:
        from fire_peers.celery_app import send_reminder

        def schedule(task_args, eta):
            send_reminder.apply_async(task_args, eta=eta)
    start = time.time()
    eta = datetime.fromtimestamp(start + args.lead, tz=timezone.utc)
    for i in range(args.carts):
        schedule((shop.cart_id(i),), eta=eta)
    end = time.time()
    print(json.dumps({"scheduled": args.carts, "eta": start + args.lead, "seconds": end - start,
                      "finished": end}))


if __name__ == "__main__":
    main()
