"""In-memory stand-ins that were never replaced by Redis."""

CARTS: dict[str, list[dict]] = {}
COUPONS_USED: set[str] = set()
WISHLISTS: dict[str, set[str]] = {}


def remember_coupon(used: set[str], code: str) -> None:
    used.add(code)  # expect: SL104


def with_defaults(line: dict) -> dict:
    line.setdefault("qty", 1)  # trap: only ever given a dict built for this request
    line.setdefault("format", "paperback")  # trap: same request-local dict
    return line
