import time

from django.core.cache import cache
from django.db.models import F
from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from .models import Order, Product
from .prices import price_overrides, vat

_stock_cache: dict[str, tuple[int, float]] = {}


def cart_add(request, sku):
    product = get_object_or_404(Product, sku=sku)
    cart = request.session.get("cart", {})
    cart[sku] = cart.get(sku, 0) + 1  # trap: a dict read out of this request's session
    request.session["cart"] = cart  # trap: the session engine is reported in settings
    price = price_overrides().get(sku, product.price)
    return JsonResponse({"cart": cart, "vat": vat(int(price * 100), 20)})


def stock_check(request, sku):
    hit = _stock_cache.get(sku)
    if hit and time.time() - hit[1] < 30:
        return JsonResponse({"sku": sku, "stock": hit[0]})
    product = get_object_or_404(Product, sku=sku)
    _stock_cache[sku] = (product.stock, time.time())  # expect: SL102
    return JsonResponse({"sku": sku, "stock": product.stock})


def charge(request, order_id):
    order = get_object_or_404(Order, pk=order_id)
    if not cache.add(f"charge-lock:{order_id}", "1", timeout=60):  # expect: SL118
        return JsonResponse({"status": "already charging"}, status=409)
    Order.objects.filter(pk=order_id).update(charged=True)  # trap: SQL update
    Product.objects.filter(pk=order.product_id).update(stock=F("stock") - order.qty)  # trap: SQL
    return JsonResponse({"status": "charged"})


def reload_prices(request):
    price_overrides.cache_clear()  # expect: SL108
    return JsonResponse({"ok": True})
