from django.core.cache import cache
from django.http import JsonResponse


def once(request):
    if not cache.add("once", 1, 60):  # trap: a Redis cache spans instances
        return JsonResponse({"status": "done"})
    return JsonResponse({"status": "ran"})
