"""A deliberately stateful app: the accidental state `stateline verify` must catch.

The counter and the session table live in this process, so every replica has
its own copy and a restart forgets them. Run: ``python local_state_app.py PORT``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

COUNTER = {"value": 0}
SESSIONS: dict[str, str] = {}


async def incr(request: Request) -> Response:
    COUNTER["value"] += 1  # stateline: allow[SL102] the bug verify's tests must catch
    return JSONResponse({"value": COUNTER["value"], "pid": os.getpid()})


async def login(request: Request) -> Response:
    user = (await request.json()).get("user", "")
    sid = secrets.token_hex(8)
    SESSIONS[sid] = user  # stateline: allow[SL110] the bug verify's tests must catch
    response = JSONResponse({"session_id": sid}, status_code=201)
    response.set_cookie("sid", sid, httponly=True)
    return response


async def me(request: Request) -> Response:
    user = SESSIONS.get(request.cookies.get("sid", ""))
    if user is None:
        return JSONResponse({"error": {"code": "no_session", "message": "log in first"}}, 401)
    return JSONResponse({"user": user})


async def hello(request: Request) -> Response:
    name = request.query_params.get("name", "world")
    return JSONResponse({"greeting": f"hello {name}", "at": time.time(), "pid": os.getpid()})


async def text(request: Request) -> Response:
    return PlainTextResponse("plain words\n")


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params.get("s", "30")))
    return JSONResponse({"slept": True})


app = Starlette(routes=[
    Route("/counter", incr, methods=["POST"]),
    Route("/login", login, methods=["POST"]),
    Route("/me", me),
    Route("/hello", hello),
    Route("/text", text),
    Route("/slow", slow),
])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
