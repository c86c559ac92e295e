from django.apps import AppConfig


class OscarRecoveryConfig(AppConfig):
    name = "cartrecovery.contrib.oscar"
    label = "cartrecovery_oscar"
    verbose_name = "Cart recovery for django-oscar"

    def ready(self) -> None:
        # Registrations only: no engine, no thread, no query (fork safety).
        from cartrecovery.django import set_app_defaults

        from . import basket, receivers

        set_app_defaults(RESTORE_CART=basket.restore_basket, CART_IS_ORDERED=basket.cart_is_ordered,
                         CART_URL="/basket/")
        receivers.connect()
