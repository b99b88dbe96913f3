from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from .. import store
from ..store import CARTS as carts
from ..store import COUPONS_USED, remember_coupon, with_defaults

router = APIRouter(tags=["cart"])


class Line(BaseModel):
    sku: str
    qty: int = 1


@router.get("/{user_id}")
def get_cart(user_id: str):
    return {"user_id": user_id, "items": carts.get(user_id, [])}


@router.post("/{user_id}/items", status_code=201)
def add_line(user_id: str, line: Line):
    if line.qty < 1:
        raise HTTPException(status_code=422, detail="qty must be at least 1")
    entry = with_defaults(line.model_dump())
    carts[user_id] = carts.get(user_id, []) + [entry]  # expect: SL104
    return entry


@router.delete("/{user_id}")
def clear_cart(user_id: str):
    carts.pop(user_id, None)  # expect: SL104
    return {"ok": True}


@router.post("/{user_id}/wishlist/{sku}")
def wish(user_id: str, sku: str):
    store.WISHLISTS.setdefault(user_id, set()).add(sku)  # expect: SL104,SL102
    return {"ok": True}


@router.post("/{user_id}/coupon/{code}")
def apply_coupon(user_id: str, code: str):
    if code in COUPONS_USED:
        raise HTTPException(status_code=409, detail="coupon already used")
    remember_coupon(COUPONS_USED, code)
    return {"applied": code}
