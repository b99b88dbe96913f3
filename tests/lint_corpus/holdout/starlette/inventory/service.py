"""Inventory service: Starlette done right, state in Redis and PostgreSQL."""

import contextlib
import logging
import re
from contextvars import ContextVar
from functools import lru_cache

import redis.asyncio as aioredis
import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger(__name__)  # trap: logger
SKU = re.compile(r"^[A-Z]{3}-\d{4}$")  # trap: compiled regex
RESERVED = Counter("inventory_reserved_total", "Units reserved", ["warehouse"])  # trap: Prometheus
IN_FLIGHT = Gauge("inventory_in_flight", "Requests in flight")  # trap: Prometheus
request_id: ContextVar[str] = ContextVar("request_id", default="-")
WAREHOUSES = ("ams", "fra", "lis")  # trap: tuple constant
DEFAULT_LIMITS = {"max_qty": 50}

redis = aioredis.from_url("redis://redis:6379/0")  # trap: store client at module level
engine = create_async_engine("postgresql+asyncpg://inv@db/inventory")  # trap: pool at module level
stock = sa.table("stock", sa.column("sku"), sa.column("qty"))


@lru_cache(maxsize=1024)  # trap: pure string function
def warehouse_for(sku: str) -> str:
    return WAREHOUSES[sum(map(ord, sku)) % len(WAREHOUSES)]


def limits_for(sku: str) -> dict:
    limits = dict(DEFAULT_LIMITS)  # trap: a local copy of a global
    if sku.startswith("BIG"):
        limits["max_qty"] = 5  # trap: writes the copy
    return limits


async def reserve(request):
    request_id.set(request.headers.get("x-request-id", "-"))  # trap: ContextVar.set
    sku = request.path_params["sku"]
    if not SKU.match(sku):
        return JSONResponse({"error": "bad sku"}, status_code=422)
    qty = int(request.query_params.get("qty", "1"))
    if qty > limits_for(sku)["max_qty"]:
        return JSONResponse({"error": "too many"}, status_code=422)
    IN_FLIGHT.inc()  # trap: Prometheus gauge
    try:
        async with engine.begin() as conn:
            change = sa.update(stock).where(stock.c.sku == sku).values(qty=stock.c.qty - qty)
            await conn.execute(change)  # trap: SQL update
        total = await redis.incrby(f"reserved:{sku}", qty)  # trap: Redis counter
        await redis.sadd("skus:reserved", sku)  # trap: a Redis set, not a Python set
        RESERVED.labels(warehouse=warehouse_for(sku)).inc(qty)  # trap: Prometheus
    finally:
        IN_FLIGHT.dec()  # trap: Prometheus gauge
    log.info("reserved %s x%d (%s)", sku, qty, request_id.get())
    return JSONResponse({"sku": sku, "reserved_total": total})


@contextlib.asynccontextmanager
async def lifespan(app):
    app.state.ready = True  # trap: lifespan start-up
    yield
    await redis.aclose()
    await engine.dispose()


app = Starlette(routes=[Route("/reserve/{sku}", reserve, methods=["POST"])], lifespan=lifespan)


if __name__ == "__main__":
    import uvicorn

    DEFAULT_LIMITS["max_qty"] = 1000  # trap: only when run as a script
    uvicorn.run(app)
