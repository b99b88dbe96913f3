INSTALLED_APPS = ["jobs"]
ROOT_URLCONF = "jobs.urls"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"  # trap: cookie sessions
