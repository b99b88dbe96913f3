from fastapi import APIRouter

from . import store
from .helpers import bump, remember, scratch_total
from .store import CARTS as carts

router = APIRouter(prefix="/cart")
LAST_SEEN: dict[str, str] = {}
HITS: dict[str, int] = {}


@router.post("/{user}")
def add_item(user: str, name: str) -> dict:
    store.put(user, {"name": name, "price": store.price_of(name)})
    remember(LAST_SEEN, user, name)
    bump(HITS, user)
    return {"items": carts.get(user, [])}


@router.delete("/{user}")
def clear(user: str) -> dict:
    carts.pop(user, None)  # expect: SL104
    return {"ok": True}


@router.get("/{user}/total")
def total(user: str) -> dict:
    return {"total": scratch_total(carts.get(user, []))}
