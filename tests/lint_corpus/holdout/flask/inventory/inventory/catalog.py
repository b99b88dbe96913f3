"""The product catalogue: defaults loaded at start-up, prices from the database."""

import sqlite3

DEFAULTS: dict[str, float] = {}
CATEGORY_ORDER = ["tools", "garden", "kitchen"]


def load_defaults() -> None:
    DEFAULTS.update({"HAMMER": 12.5, "SPADE": 20.0})  # trap: called from the app factory only


def lookup_price(sku: str) -> float:
    conn = sqlite3.connect("inventory.db")
    try:
        row = conn.execute("SELECT price FROM products WHERE sku = ?", (sku,)).fetchone()
        return row[0] if row else DEFAULTS.get(sku, 0.0)
    finally:
        conn.close()


def sorted_categories(extra: list[str]) -> list[str]:
    order = CATEGORY_ORDER + extra  # trap: concatenation makes a new list
    order.sort()  # trap: sorts the new list
    return order
