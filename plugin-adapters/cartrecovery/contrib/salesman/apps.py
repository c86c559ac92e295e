from django.apps import AppConfig


class SalesmanRecoveryConfig(AppConfig):
    name = "cartrecovery.contrib.salesman"
    label = "cartrecovery_salesman"
    verbose_name = "Cart recovery for django-salesman"

    def ready(self) -> None:
        # Registrations only: no engine, no thread, no query (fork safety).
        from cartrecovery.django import set_app_defaults

        from . import basket, receivers

        set_app_defaults(RESTORE_CART=basket.restore_basket, CART_IS_ORDERED=basket.cart_is_ordered)
        receivers.connect()
