"""Settings of the small Django shop the adapter tests drive (sessions live in signed
cookies). Each test points CARTRECOVERY at its own store with override_settings. Only the
staff dashboard tests use the database: django.contrib.auth's users, in memory."""
SECRET_KEY = "django-test-shop-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "django_project.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
                  "cartrecovery.django"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cartrecovery.django.middleware.CurrentRequestMiddleware",
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CARTRECOVERY = {
    "SECRET": "django-test-secret-0123456789",
    "BASE_URL": "http://testserver/cr/",
    "STORE": "sqlite:///:memory:",
    "SHOP_NAME": "Kite Shop",
    "RESTORE_CART": "django_project.shop.rebuild_cart",
    "CART_URL": "/cart/",
}
