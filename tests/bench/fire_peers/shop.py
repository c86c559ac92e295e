"""The Django side every peer shares: settings (the shop's SQLite file from FIRE_DB, Django's
defaults otherwise), the reminder a shop writes by hand (Django templates, send_mail), and
creating the workload's carts.

    python -m fire_peers.shop create --db shop.db --carts 20000
"""
from __future__ import annotations

import argparse
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import django
from django.conf import settings

HERE = Path(__file__).resolve().parent
SHOP = {"shop_name": "Kite Shop", "base_url": "https://kite.example"}


def setup(db_path: str | None = None) -> None:
    """Configures Django once per process: the shop's SQLite file with Django's defaults
    (rollback journal, autocommit), cached template loaders, and an e-mail backend that
    sends nothing, like the engine's no-op CallbackChannel."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        SECRET_KEY="bench",
        INSTALLED_APPS=["fire_peers"],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": db_path or os.environ["FIRE_DB"],
            # Several consumer processes write one file: wait for the lock, as a shop must.
            "OPTIONS": {"timeout": 60},
        }},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "DIRS": [], "APP_DIRS": True}],
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        DEFAULT_FROM_EMAIL="Kite Shop <shop@kite.example>",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def render_and_send(cart) -> None:
    """What a shop's reminder does: render the subject, text and HTML with the cart, send."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    context = {
        **SHOP,
        "first_name": cart.first_name,
        "items": cart.items,
        "value": cart.value,
        "currency": cart.currency,
        "restore_url": f"{SHOP['base_url']}/cart/restore/{cart.cart_id}/",
        "unsubscribe_url": f"{SHOP['base_url']}/unsubscribe/?email={cart.email}",
    }
    subject = render_to_string("fire_peers/reminder_subject.txt", context).strip()
    text = render_to_string("fire_peers/reminder.txt", context)
    html = render_to_string("fire_peers/reminder.html", context)
    send_mail(subject, text, None, [cart.email], html_message=html)


def send_reminder(cart_id: str) -> bool:
    """The task body Huey and Celery users write: load the cart, check it is still
    abandoned, send, mark it reminded. Returns whether a reminder went out."""
    from django.utils import timezone

    from fire_peers.models import Cart

    cart = Cart.objects.get(cart_id=cart_id)
    if cart.ordered or cart.reminded_at is not None:
        return False
    render_and_send(cart)
    cart.reminded_at = timezone.now()
    cart.save(update_fields=["reminded_at"])
    return True


def cart_id(i: int) -> str:
    return f"c{i}"


def create(db_path: str, carts: int) -> None:
    """The workload: `carts` carts with two items and an e-mail, left two hours ago, none
    reminded yet (the same carts the engine's store holds)."""
    setup(db_path)
    from django.db import connection
    from django.utils import timezone

    from fire_peers.models import Cart

    with connection.schema_editor() as editor:
        editor.create_model(Cart)
    left = timezone.now() - timedelta(hours=2)
    rows = [Cart(cart_id=cart_id(i), email=f"shopper{i}@example.com", first_name=f"Ann{i}",
                 items=[{"sku": "KITE-1", "name": "Kite Pro 9m", "price": "19.99", "quantity": 3},
                        {"sku": "BOARD-2", "name": "Twin-Tip Board", "price": "249.00",
                         "quantity": 1}],
                 value=Decimal("308.97"), currency="EUR", last_activity=left)
            for i in range(carts)]
    Cart.objects.bulk_create(rows, batch_size=500)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["create"])
    ap.add_argument("--db", required=True)
    ap.add_argument("--carts", type=int, required=True)
    args = ap.parse_args()
    create(args.db, args.carts)


if __name__ == "__main__":
    main()
