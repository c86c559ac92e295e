from django.apps import AppConfig


class CartRecoveryConfig(AppConfig):
    name = "cartrecovery.django"
    label = "cartrecovery"
    verbose_name = "Cart recovery"

    def ready(self) -> None:
        # Only registrations here: no engine, no thread, no store (fork safety).
        from django.core.signals import setting_changed

        from . import checks  # noqa: F401  (registers the system check)
        from . import reset
        from .anymail import connect

        def on_setting_changed(setting, **kwargs):
            if setting == "CARTRECOVERY":
                reset()

        setting_changed.connect(on_setting_changed, weak=False, dispatch_uid="cartrecovery.reset")
        connect()
