"""The same app done right: counter and sessions live in Redis, not in the process.

Run: ``python redis_state_app.py PORT REDIS_URL KEY_PREFIX`` (the prefix keeps
tests that share one Redis server apart).
"""

from __future__ import annotations

import os
import secrets
import sys
import time

import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

PORT, REDIS_URL, PREFIX = int(sys.argv[1]), sys.argv[2], sys.argv[3]
store = aioredis.from_url(REDIS_URL, decode_responses=True)


async def incr(request: Request) -> Response:
    value = await store.incr(f"{PREFIX}:counter")
    return JSONResponse({"value": value, "pid": os.getpid()})


async def login(request: Request) -> Response:
    user = (await request.json()).get("user", "")
    sid = secrets.token_hex(8)
    await store.set(f"{PREFIX}:session:{sid}", user, ex=60)
    response = JSONResponse({"session_id": sid}, status_code=201)
    response.set_cookie("sid", sid, httponly=True)
    return response


async def me(request: Request) -> Response:
    user = await store.get(f"{PREFIX}:session:{request.cookies.get('sid', '')}")
    if user is None:
        return JSONResponse({"error": {"code": "no_session", "message": "log in first"}}, 401)
    return JSONResponse({"user": user})


async def hello(request: Request) -> Response:
    name = request.query_params.get("name", "world")
    return JSONResponse({"greeting": f"hello {name}", "at": time.time(), "pid": os.getpid()})


async def text(request: Request) -> Response:
    return PlainTextResponse("plain words\n")


app = Starlette(routes=[
    Route("/counter", incr, methods=["POST"]),
    Route("/login", login, methods=["POST"]),
    Route("/me", me),
    Route("/hello", hello),
    Route("/text", text),
])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
