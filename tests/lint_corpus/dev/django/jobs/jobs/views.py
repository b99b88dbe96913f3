import threading

from django.core.cache import cache
from django.http import JsonResponse

_digest_lock = threading.Lock()


def nightly(request):
    if cache.get("nightly-ran"):
        return JsonResponse({"status": "skipped"})
    cache.set("nightly-ran", True, 3600)  # expect: SL118
    return JsonResponse({"status": "ran"})


def digest(request):
    _digest_lock.acquire()  # expect: SL118
    try:
        return JsonResponse({"status": "sent"})
    finally:
        _digest_lock.release()
