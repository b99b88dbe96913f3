from functools import wraps

from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker()
app = FastAPI()
CARTS: dict[str, list[str]] = {}
USERS: dict[str, dict] = {"ann": {"active": True}}


class Stock:
    def __init__(self) -> None:
        self.levels: dict[str, int] = {}

    def take(self, sku: str) -> None:
        self.levels[sku] = self.levels.get(sku, 10) - 1  # expect: SL105


stock = Stock()


class Stats:
    hits = 0


def get_stock() -> Stock:
    return stock


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


def memoize(fn):
    cache = {}

    @wraps(fn)
    def wrapper(*args):
        if args not in cache:
            cache[args] = fn(*args)  # expect: SL102
        return cache[args]

    return wrapper


@memoize
def describe(sku: str) -> str:
    return sku.upper()


def cart_of(user: str) -> list[str]:
    return CARTS.setdefault(user, [])  # expect: SL102


@app.post("/take/{sku}")
def take(sku: str, s: Stock = Depends(get_stock), db: Session = Depends(get_db)) -> dict:
    s.take(sku)
    db.add({"sku": sku})  # trap: a SQL session, the cure
    Stats.hits += 1  # expect: SL105
    return {"name": describe(sku)}


@app.post("/cart/{user}/{sku}")
def add(user: str, sku: str) -> dict:
    cart_of(user).append(sku)  # expect: SL102
    items = CARTS.get(user) or []
    items.append("gift")  # expect: SL102
    return {"items": CARTS[user]}


@app.post("/users/deactivate")
def deactivate() -> dict:
    for user in USERS.values():
        user["active"] = False  # expect: SL102
    snapshot = {name: dict(u) for name, u in USERS.items()}
    for name, u in snapshot.items():
        u["seen"] = True  # trap: writes the per-request copies
    return snapshot
