"""System check: a missing secret or base URL is reported at start-up, not at the first
reminder that cannot link back to the shop."""
from django.core.checks import Error, register

from . import config


@register()
def cartrecovery_settings(app_configs=None, **kwargs):
    try:
        problems = config().problems()
    except Exception as e:  # an unknown key, a bad hook path
        return [Error(str(e), id="cartrecovery.E000")]
    return [Error(p, hint="See the CARTRECOVERY setting in the cartrecovery docs.",
                  id="cartrecovery.E001" if p.startswith("SECRET") else "cartrecovery.E002")
            for p in problems]
