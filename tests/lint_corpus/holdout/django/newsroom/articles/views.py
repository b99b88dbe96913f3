import logging
import threading
from datetime import date
from functools import cache, lru_cache

from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db import transaction
from django.http import JsonResponse
from django.views import View

from .models import Article, Draft
from .mail import send_mail_to_subscribers

logger = logging.getLogger(__name__)  # trap: logger
_digest_lock = threading.Lock()
_autosave_buffer: dict[int, list[str]] = {}


@lru_cache(maxsize=1)  # trap: settings are fixed for the process lifetime
def feature_flags() -> dict:
    return dict(settings.FEATURES)


@cache  # expect: SL107
def front_page_date() -> str:
    return date.today().isoformat()


class ArticleView(View):
    http_method_names = ["get"]  # trap: class-based view attribute

    def get(self, request, slug):
        article = Article.objects.get(slug=slug)
        self.article = article  # trap: per-request view instance
        shared_cache.get_or_set(f"views:{slug}", 0)  # trap: Redis-backed cache
        views = shared_cache.incr(f"views:{slug}")  # trap: Redis-backed cache
        return JsonResponse({"title": article.title, "views": views})


def like(request, slug):
    key = f"likes:{slug}"
    shared_cache.add(key, 0)  # trap: Redis-backed cache shared by all instances
    likes = shared_cache.incr(key)  # trap: Redis INCR through Django's cache
    return JsonResponse({"likes": likes})


def publish(request, slug):
    if not shared_cache.add(f"publishing:{slug}", "1", timeout=30):  # trap: lock kept in Redis
        return JsonResponse({"status": "busy"}, status=409)
    with transaction.atomic():
        Article.objects.filter(slug=slug).update(published=True)  # trap: SQL update
    logger.info("published %s", slug)
    return JsonResponse({"status": "published"})


def autosave(request, draft_id):
    chunks = _autosave_buffer.setdefault(draft_id, [])  # expect: SL102
    chunks.append(request.body.decode())  # expect: SL102
    if len(chunks) >= 10:
        Draft.objects.filter(pk=draft_id).update(body="".join(chunks))  # trap: SQL update
    return JsonResponse({"buffered": len(chunks)})


def send_digest(request):
    with _digest_lock:  # expect: SL118
        if shared_cache.get("digest-sent-today"):
            return JsonResponse({"status": "already sent"})
        send_mail_to_subscribers()
        shared_cache.set("digest-sent-today", True, timeout=86400)  # trap: Redis-backed cache
    return JsonResponse({"status": "sent"})


def today(request):
    return JsonResponse({"date": front_page_date()})


def flags(request):
    flags = feature_flags().copy()  # trap: copy of a cached dict
    flags["preview"] = getattr(request, "preview", False)  # trap: writes the copy
    return JsonResponse(flags)
