INSTALLED_APPS = ["django.contrib.sessions", "rest_framework", "polls"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "polls.middleware.ErrorCollector",
]
ROOT_URLCONF = "pollsite.urls"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "polls",
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"  # expect: SL110
REST_FRAMEWORK = {"DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination"}
