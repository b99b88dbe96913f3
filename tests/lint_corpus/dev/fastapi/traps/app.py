"""Everything here must stay silent: the shapes of state that are fine."""
from contextlib import asynccontextmanager

import click
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import create_async_engine

ROLES = frozenset({"admin", "user"})  # trap: frozenset constant
DEFAULTS = {"page_size": 20}  # trap: read-only table
engine = create_async_engine("sqlite+aiosqlite:///app.db")  # trap: pool at module level
JOBS: list[str] = []


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.redis = aioredis.from_url("redis://localhost")  # trap: client made in lifespan
    app.state.seen = set()  # trap: created once at start-up
    yield
    await app.state.redis.aclose()


app = FastAPI(lifespan=lifespan)


@app.post("/visit/{page}")
async def visit(page: str, request: Request) -> dict:
    r = request.app.state.redis
    n = await r.incr(f"visits:{page}")  # trap: the cure
    await request.app.state.redis.hset("last", page, n)  # trap: the cure
    await r.sadd("pages", page)  # trap: the cure
    request.state.page = page  # trap: per-request state
    size = DEFAULTS["page_size"]
    return {"n": n, "size": size, "admin": "admin" in ROLES}


@app.get("/defaults")
async def defaults() -> dict:
    merged = {**DEFAULTS}
    merged["page_size"] = 50  # trap: a new dict per request
    return merged


@click.command()
def enqueue() -> None:
    JOBS.append("rebuild")  # trap: CLI code no route reaches
    DEFAULTS["page_size"] = 10  # trap: CLI code no route reaches
