"""The reminder as a Celery task with an ETA, on the local Redis (FIRE_REDIS, default
redis://127.0.0.1:6379/15); the shop's Cart table in FIRE_DB. The worker:

    celery -A fire_peers.celery_app worker -P prefork -c 2
"""
import os
import time

from celery import Celery
from celery.signals import worker_ready

from fire_peers import shop

shop.setup()

app = Celery("fire", broker=os.environ.get("FIRE_REDIS", "redis://127.0.0.1:6379/15"))
app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True,
                worker_hijack_root_logger=False)


@worker_ready.connect
def announce(**_) -> None:
    # the bench's clock starts at this line (logging is at warning level)
    os.write(2, f"fire-peer ready {time.time():.6f}\n".encode())


@app.task
def send_reminder(cart_id: str) -> bool:
    return shop.send_reminder(cart_id)
