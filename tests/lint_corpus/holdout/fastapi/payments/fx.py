"""Exchange rates fetched from a rates API."""

import httpx

RATES_URL = "https://rates.example/api/latest"  # trap: constant


def rate_to_eur(code: str, _memo={}) -> float:
    if code == "EUR":
        return 1.0
    if code not in _memo:
        response = httpx.get(RATES_URL, params={"base": code, "symbols": "EUR"}, timeout=3)
        _memo[code] = response.json()["rates"]["EUR"]  # expect: SL106
    return _memo[code]


def cached_codes(extra=(), _options={"sort": True}) -> list[str]:
    codes = sorted(rate_to_eur.__defaults__[0]) + list(extra)  # trap: reads the memo, writes nothing
    return codes if _options["sort"] else codes[::-1]  # trap: mutable default only read
