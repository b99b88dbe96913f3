import itertools

from django.core.cache import cache
from django.http import JsonResponse
from django.views import View
from rest_framework import viewsets
from rest_framework.response import Response

CATEGORIES: dict[str, int] = {}
CARTS: dict[str, list[str]] = {}
_invoice_numbers = itertools.count(1000)


def add_to_cart(request):
    user = request.user.username
    CARTS.setdefault(user, []).append(request.POST["sku"])  # expect: SL102
    request.session["cart_size"] = len(CARTS[user])  # trap: the session framework's store
    return JsonResponse({"items": CARTS[user]})


def run_job(request, key):
    if not cache.add(f"job:{key}", 1, timeout=60):  # expect: SL118
        return JsonResponse({"status": "running"})
    return JsonResponse({"status": "started"})


class ReportView(View):
    template_name = "report.html"
    extra_context = None

    def get(self, request):
        self.extra_context = {"user": request.user.username}  # trap: CBV instance per request
        return JsonResponse({"invoice": next(_invoice_numbers)})  # expect: SL114


class OrderViewSet(viewsets.ViewSet):
    recent: list[int] = []

    def create(self, request):
        self.recent.append(request.data["id"])  # expect: SL105
        return Response({"ok": True})

    def list(self, request):
        return Response({"recent": list(self.recent), "categories": CATEGORIES})
