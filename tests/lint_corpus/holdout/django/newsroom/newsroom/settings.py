import os

SECRET_KEY = os.environ["SECRET_KEY"]
INSTALLED_APPS = ["django.contrib.sessions", "articles"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "articles.middleware.PreviewTokenMiddleware",
]
ROOT_URLCONF = "newsroom.urls"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://redis:6379/0"),
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"  # trap: the cache is Redis, shared by all instances
FEATURES = {"comments": True, "paywall": False}
