import json
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=None)  # expect: SL107
def price_overrides() -> dict:
    with open(settings.BASE_DIR / "prices.json") as f:
        return json.load(f)


@lru_cache  # trap: pure arithmetic
def vat(amount_cents: int, rate_percent: int) -> int:
    return amount_cents * rate_percent // 100
