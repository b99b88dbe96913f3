"""Catalogue helpers shared by the routers."""

import re
from functools import lru_cache

from sqlalchemy import text

from .db import engine

GENRES = ("fiction", "history", "science", "poetry")  # trap: tuple constant
ISBN_RE = re.compile(r"^97[89]\d{10}$")  # trap: compiled regex
FORMATS = frozenset({"paperback", "hardcover", "ebook"})  # trap: frozenset constant

DISCOUNTS: dict[str, float] = {}
for _genre in GENRES:
    DISCOUNTS[_genre] = 0.1 if _genre == "poetry" else 0.0  # trap: table filled at import


@lru_cache(maxsize=4096)  # trap: pure function of its argument
def normalise_isbn(raw: str) -> str:
    return raw.replace("-", "").replace(" ", "").strip()


@lru_cache(maxsize=1)  # expect: SL107
def bestseller_ids() -> tuple[int, ...]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id FROM books ORDER BY sold DESC LIMIT 10"))
        return tuple(row.id for row in rows)


def price_after_discount(price: float, genre: str) -> float:
    return round(price * (1 - DISCOUNTS.get(genre, 0.0)), 2)
