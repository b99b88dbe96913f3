SECRET_KEY = "dev"
INSTALLED_APPS = ["django.contrib.sessions", "rest_framework", "orders"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "orders.middleware.RequestCounter",
    "orders.middleware.timing",
]
ROOT_URLCONF = "shopsite.urls"
SESSION_ENGINE = "django.contrib.sessions.backends.cache"  # expect: SL110
