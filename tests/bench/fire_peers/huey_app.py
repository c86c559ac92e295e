"""The reminder as a Huey task, scheduled when the cart is left (SqliteHuey, the file in
FIRE_HUEY_DB; the shop's Cart table in FIRE_DB). The consumer runs it at the ETA:

    huey_consumer fire_peers.huey_app.huey -w 2 -k process
"""
import os
import time

from huey import SqliteHuey

from fire_peers import shop

shop.setup()

huey = SqliteHuey("fire", filename=os.environ["FIRE_HUEY_DB"])


@huey.on_startup()
def announce() -> None:
    # the bench's clock starts at this line (logging is off: -q)
    os.write(2, f"fire-peer ready {time.time():.6f}\n".encode())


@huey.task()
def send_reminder(cart_id: str) -> bool:
    return shop.send_reminder(cart_id)
