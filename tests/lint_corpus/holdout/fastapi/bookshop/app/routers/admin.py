from fastapi import APIRouter, Request

from ..catalog import bestseller_ids

router = APIRouter(tags=["admin"])


@router.post("/bestsellers/refresh")
def refresh_bestsellers():
    bestseller_ids.cache_clear()  # expect: SL108
    return {"ok": True}


@router.post("/maintenance")
async def maintenance_on(request: Request):
    request.app.state.maintenance = True  # expect: SL116
    await request.app.state.redis.set("bookshop:maintenance", "1")  # trap: write into Redis
    await request.app.state.redis.incr("bookshop:admin_actions")  # trap: Redis INCR
    return {"maintenance": True}


@router.get("/maintenance")
async def maintenance_state(request: Request):
    flag = await request.app.state.redis.get("bookshop:maintenance")
    return {"maintenance": flag == b"1"}
