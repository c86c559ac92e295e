"""A django-salesman shop as salesman's docs set one up (no Wagtail: salesman's API alone),
plus cartrecovery. The lines a shop writes for cartrecovery are marked "cartrecovery":
settings only, and one URL line."""
import os

SECRET_KEY = "salesman-test-shop-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
ROOT_URLCONF = "salesman_shop.urls"
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("SALESMAN_SHOP_DB", ":memory:")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "rest_framework",
    "salesman.core", "salesman.basket", "salesman.checkout", "salesman.orders",
    "salesman_shop",
    "cartrecovery.django",                      # cartrecovery
    "cartrecovery.contrib.salesman",            # cartrecovery
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cartrecovery.contrib.salesman.middleware.SalesmanRecoveryMiddleware",  # cartrecovery
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request"]}}]
SALESMAN_PRODUCT_TYPES = {"salesman_shop.Product": "salesman_shop.shop.ProductSerializer"}
SALESMAN_PAYMENT_METHODS = ["salesman_shop.shop.PayOnDelivery", "salesman_shop.shop.DeclinedCard"]
STATIC_URL = "/static/"

CARTRECOVERY = {                                # cartrecovery
    "SECRET": "salesman-shop-recovery-secret-0123",
    "BASE_URL": "http://testserver/cr/",
    "STORE": os.environ.get("SALESMAN_SHOP_RECOVERY_STORE", "sqlite:///:memory:"),
}
