"""A django-oscar shop as oscar's docs set one up, plus cartrecovery. The lines a shop
writes for cartrecovery are marked "cartrecovery": settings only, and one URL line."""
import os

from oscar import INSTALLED_APPS as OSCAR_APPS
from oscar.defaults import *  # noqa: F401,F403  (oscar's documented way)

SECRET_KEY = "oscar-test-shop-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
ROOT_URLCONF = "oscar_shop.urls"
SITE_ID = 1
USE_TZ = True
LANGUAGE_CODE = "en-gb"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("OSCAR_SHOP_DB", ":memory:")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = OSCAR_APPS + [
    "cartrecovery.django",                      # cartrecovery
    "cartrecovery.contrib.oscar",               # cartrecovery
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "cartrecovery.contrib.oscar.middleware.OscarRecoveryMiddleware",  # cartrecovery
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "oscar.apps.search.context_processors.search_form",
        "oscar.apps.checkout.context_processors.checkout",
        "oscar.apps.communication.notifications.context_processors.notifications",
        "oscar.core.context_processors.metadata"]}}]
AUTHENTICATION_BACKENDS = ["oscar.apps.customer.auth_backends.EmailBackend",
                           "django.contrib.auth.backends.ModelBackend"]
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
HAYSTACK_SIGNAL_PROCESSOR = "haystack.signals.BaseSignalProcessor"  # no search index to keep


class _NoMigrations(dict):
    # The test database is made from the models directly (oscar's ~200 migrations take
    # minutes on a busy CI machine and test nothing of ours).
    def __contains__(self, item):
        return True

    def __getitem__(self, item):
        return None


MIGRATION_MODULES = _NoMigrations()
OSCAR_THUMBNAILER = "oscar_shop.thumbnails.NoThumbnails"  # no image library needed here
OSCAR_ALLOW_ANON_CHECKOUT = True
OSCAR_DEFAULT_CURRENCY = "EUR"
STATIC_URL = "/static/"
MEDIA_URL = "/media/"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CARTRECOVERY = {                                # cartrecovery
    "SECRET": "oscar-shop-recovery-secret-0123",
    "BASE_URL": "http://testserver/cr/",
    "STORE": os.environ.get("OSCAR_SHOP_RECOVERY_STORE", "sqlite:///:memory:"),
}
