from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "change-me"
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "shop.apps.ShopConfig",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "shop.middleware.TimingMiddleware",
    "shop.middleware.request_counter",
]

ROOT_URLCONF = "shopsite.urls"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "shop",
        "HOST": "db",
    }
}

# No CACHES setting: Django's default is the local-memory cache.
SESSION_ENGINE = "django.contrib.sessions.backends.cache"  # expect: SL110
SESSION_COOKIE_AGE = 60 * 60 * 24
