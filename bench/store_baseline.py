"""The same-driver baseline: minimal Starlette apps making the store-backed endpoints' calls.

``bench/app_throughput.py --store-endpoints`` compares each stateline endpoint
that reads a store with this app serving the same path: Starlette, one route,
the same store call with the same driver and the same client settings
(redis-py asyncio with hiredis and ``decode_responses``; for SQL the driver
named by ``BENCH_SQL_DRIVER``), and no stateline code: no middleware, no
validation, no idempotency, no OpenAPI. The gap between the two is what
stateline's own code costs on top of the driver.

Configured by the environment (the bench sets it): ``BENCH_REDIS_URL``,
``BENCH_DATABASE_URL`` (a ``sqlite:///`` or ``postgresql://`` URL),
``BENCH_SQL_DRIVER`` = ``sqlalchemy-async`` (SQLAlchemy Core on aiosqlite /
psycopg async: stateline's driver before issue 16) or ``sqlalchemy-threads``
(SQLAlchemy Core on a sync engine in a bounded thread pool: what
``stateline.stores.sql`` uses now). Currency does what a naive stateless
converter does: it reads both rates per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import create_engine, select
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stateline.stores.sql import rates, users  # the table definitions only: same statements

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "sqlite:///bench.db")
SQL_DRIVER = os.environ.get("BENCH_SQL_DRIVER", "sqlalchemy-threads")

state: dict[str, Any] = {}  # the clients, made once at start-up (never request data)


def _urls() -> tuple[str, str]:
    scheme, _, rest = DATABASE_URL.partition("://")
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}", f"sqlite+pysqlite://{rest}"
    return f"postgresql+psycopg://{rest}", f"postgresql+psycopg://{rest}"


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    state["redis"] = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    async_url, sync_url = _urls()
    if SQL_DRIVER == "sqlalchemy-async":
        engine = create_async_engine(async_url)

        async def read(stmt: Any) -> list[Any]:
            async with engine.connect() as conn:
                return list(await conn.execute(stmt))
        closer: Callable[[], Any] = engine.dispose
    else:
        sync_engine = create_engine(sync_url, pool_size=8)
        pool = ThreadPoolExecutor(8, thread_name_prefix="sql")

        def run(stmt: Any) -> list[Any]:
            with sync_engine.connect() as conn:
                return list(conn.execute(stmt))

        async def read(stmt: Any) -> list[Any]:
            return await asyncio.get_running_loop().run_in_executor(pool, run, stmt)

        async def closer() -> None:
            pool.shutdown()
            sync_engine.dispose()
    state["read"] = read
    yield
    await state["redis"].aclose()
    await closer()


async def counter(request: Request) -> JSONResponse:
    value = await state["redis"].get("stateline:counter:{requests}")
    return JSONResponse({"value": int(value or 0)})


async def player(request: Request) -> JSONResponse:
    pid = request.path_params["player_id"]
    x, y = await state["redis"].hmget(f"stateline:player:{{{pid}}}", ["x", "y"])
    return JSONResponse({"player_id": pid, "x": float(x), "y": float(y)})


async def cart(request: Request) -> JSONResponse:
    uid = request.path_params["user_id"]
    lines = await state["redis"].hgetall(f"stateline:cart:{{{uid}}}")
    return JSONResponse({"user_id": uid, "items": [
        {"sku": s, "qty": int(q)} for s, q in sorted(lines.items())]})


async def user(request: Request) -> JSONResponse:
    rows = await state["read"](select(users).where(users.c.id == int(request.path_params["id"])))
    row = rows[0]
    return JSONResponse({"id": row.id, "name": row.name, "email": row.email,
                         "created_at": str(row.created_at)})


async def convert(request: Request) -> JSONResponse:
    q = request.query_params
    src, dst, amount = q["from"], q["to"], float(q["amount"])
    rows = await state["read"](select(rates).where(rates.c.currency.in_([src, dst])))
    found = {r.currency: r for r in rows}
    rate = found[dst].rate / found[src].rate
    return JSONResponse({"amount": amount, "from": src, "to": dst, "rate": rate,
                         "result": round(amount * rate, 6), "as_of": str(found[dst].as_of)})


app = Starlette(routes=[
    Route("/api/counter", counter),
    Route("/api/players/{player_id}/position", player),
    Route("/api/carts/{user_id}", cart),
    Route("/api/users/{id}", user),
    Route("/api/currency/convert", convert),
], lifespan=lifespan)
