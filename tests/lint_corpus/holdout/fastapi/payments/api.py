"""Payments service: one module, the way small services often start."""

import asyncio
import itertools
import random
import threading
import time
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from redis import Redis
from slowapi import Limiter
from slowapi.util import get_remote_address

import fx

app = FastAPI()
limiter = Limiter(key_func=get_remote_address)  # expect: SL109
app.state.limiter = limiter  # trap: module top level, import time
redis = Redis.from_url("redis://cache:6379/1")  # trap: store client at module level
api_key_header = APIKeyHeader(name="X-Api-Key")

_receipt_numbers = itertools.count(1000)
_error_count = 0
_seen_keys: set[str] = set()
_payout_lock = threading.Lock()
_buckets: dict[str, tuple[float, float]] = {}
RATE, BURST = 5.0, 10.0
_http: httpx.Client | None = None


class RecentPayments:
    def __init__(self) -> None:
        self.items: list[dict] = []


_recent: RecentPayments | None = None


def recent_payments() -> RecentPayments:
    global _recent
    if _recent is None:
        _recent = RecentPayments()  # trap: creating the object stores nothing from a request
    return _recent


def http() -> httpx.Client:
    global _http
    if _http is None:
        _http = httpx.Client(timeout=5.0)  # trap: lazily created client, holds no request data
    return _http


def check_key(key: Annotated[str, Security(api_key_header)]) -> str:
    if not key.startswith("pk_"):
        raise HTTPException(status_code=401)
    _seen_keys.add(key)  # expect: SL102
    return key


def take_token(client: str) -> bool:
    now = time.monotonic()
    tokens, last = _buckets.get(client, (BURST, now))
    tokens = min(BURST, tokens + (now - last) * RATE)
    if tokens < 1:
        return False
    _buckets[client] = (tokens - 1, now)  # expect: SL109
    return True


def throttle(request: Request) -> None:
    if not take_token(request.client.host):
        raise HTTPException(status_code=429)


@app.exception_handler(HTTPException)
async def count_errors(request: Request, exc: HTTPException):
    global _error_count
    _error_count += 1  # expect: SL101
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


@app.post("/payments", dependencies=[Depends(throttle)])
@limiter.limit("30/minute")
def create_payment(request: Request, amount: int, currency: str, key: str = Depends(check_key)):
    receipt = next(_receipt_numbers)  # expect: SL114
    rate = fx.rate_to_eur(currency)
    payment = {"receipt": receipt, "amount": amount, "eur": round(amount * rate, 2)}
    recent_payments().items.append(payment)  # expect: SL117
    redis.hset(f"payment:{receipt}", mapping=payment)  # trap: write into Redis
    redis.incr("payments:count")  # trap: correct shared counter
    return payment


@app.get("/payments/recent")
def list_recent():
    return {"items": recent_payments().items[-20:]}


@app.get("/checkout/variant")
def checkout_variant(user_id: int):
    random.seed(user_id)  # expect: SL115
    return {"variant": random.choice(["a", "b"])}


@app.get("/checkout/variant-v2")
def checkout_variant_v2(user_id: int):
    rng = random.Random(user_id)  # trap: a local generator seeded from the input is a pure function
    return {"variant": rng.choice(["a", "b"]), "jitter": random.random()}


@app.post("/payouts/run")
def run_payouts():
    with _payout_lock:  # expect: SL118
        due = redis.lrange("payouts:due", 0, -1)
        for payout in due:
            http().post("https://bank.example/payouts", content=payout)
        redis.delete("payouts:due")  # trap: Redis delete
    return {"sent": len(due)}


@app.get("/rates/{currency}")
def show_rate(currency: str, x_debug: Annotated[str | None, Header()] = None):
    return {"currency": currency, "eur": fx.rate_to_eur(currency), "cached": fx.cached_codes()}


@app.on_event("startup")
async def warm_up() -> None:
    for code in ("USD", "GBP"):
        fx.rate_to_eur(code)  # trap: start-up hook fills the memo before serving
    await asyncio.sleep(0)


if __name__ == "__main__":
    _seen_keys.clear()  # trap: only when run as a script
    import uvicorn

    uvicorn.run(app)
