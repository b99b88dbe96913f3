import time

from fastapi import FastAPI, HTTPException, Request
from slowapi import Limiter
from slowapi.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)  # expect: SL109
shared = Limiter(key_func=get_remote_address, storage_uri="redis://redis:6379")  # trap: shared
app = FastAPI()
app.state.limiter = limiter  # trap: start-up wiring at import
BUCKETS: dict[str, list[float]] = {}
WINDOW_S = 60


@app.get("/search")
@limiter.limit("5/minute")
async def search(request: Request, q: str) -> dict:
    ip = request.client.host
    now = time.time()
    recent = [t for t in BUCKETS.get(ip, []) if now - t < WINDOW_S]
    if len(recent) >= 10:
        raise HTTPException(429, "slow down")
    recent.append(now)  # trap: appends to the fresh local list
    BUCKETS[ip] = recent  # expect: SL109
    return {"q": q}
