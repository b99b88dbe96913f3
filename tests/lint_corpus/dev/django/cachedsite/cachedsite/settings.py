INSTALLED_APPS = ["cachedsite"]
ROOT_URLCONF = "cachedsite.urls"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": "redis://redis:6379/1"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"  # trap: the cache is Redis
