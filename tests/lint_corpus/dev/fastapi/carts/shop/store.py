"""An in-memory cart store: what the seed calls a stateful shopping cart."""
CARTS: dict[str, list[dict]] = {}
PRICES = {"apple": 3, "pear": 4}  # trap: read-only table


def put(user: str, item: dict) -> None:
    CARTS.setdefault(user, []).append(item)  # expect: SL102


def price_of(name: str) -> int:
    return PRICES.get(name, 0)
