"""A chat service on aiohttp: rooms, a WebSocket feed, uploads, a news ticker."""

import asyncio
import logging
import secrets
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

from . import feeds, rooms

log = logging.getLogger("chat")  # trap: logger
routes = web.RouteTableDef()
UPLOAD_DIR = Path("/var/lib/chat/uploads")
_history: list[dict] = []
_tokens: dict[str, str] = {}
_failed_logins: dict[str, int] = {}
_digest_lock = asyncio.Lock()


@web.middleware
async def auth(request, handler):
    token = request.cookies.get("chat_token")
    request["user"] = _tokens.get(token) if token else None  # trap: request-scoped mapping
    return await handler(request)


@routes.post("/login")
async def login(request):
    form = await request.post()
    ip = request.remote
    if form.get("password") != "letmein":
        _failed_logins[ip] = _failed_logins.get(ip, 0) + 1  # expect: SL109,SL102
        raise web.HTTPUnauthorized()
    token = secrets.token_hex(16)
    _tokens[token] = form["user"]  # expect: SL110
    response = web.json_response({"ok": True})
    response.set_cookie("chat_token", token, httponly=True)  # trap: per-response
    return response


@routes.get("/ws")
async def feed(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    request.app["sockets"].append(ws)  # expect: SL112
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            for other in request.app["sockets"]:
                await other.send_str(msg.data)
    return ws


@routes.post("/messages")
async def post_message(request):
    body = await request.json()
    message = {"user": request["user"], "text": body["text"]}
    _history.append(message)  # expect: SL102
    request.app["messages_sent"] += 1  # expect: SL116
    async with request.app["db"].acquire() as conn:
        sql = "INSERT INTO messages (author, text) VALUES ($1, $2)"
        await conn.execute(sql, message["user"], message["text"])  # trap: SQL write
    return web.json_response(message, status=201)


@routes.get("/messages")
async def list_messages(request):
    return web.json_response(_history[-50:])


@routes.post("/uploads/{name}")
async def upload(request):
    data = await request.read()
    (UPLOAD_DIR / request.match_info["name"]).write_bytes(data)  # expect: SL111
    return web.json_response({"size": len(data)}, status=201)


@routes.get("/uploads/{name}")
async def download(request):
    return web.FileResponse(UPLOAD_DIR / request.match_info["name"])


@routes.post("/digest")
async def send_digest(request):
    async with _digest_lock:  # expect: SL118
        async with request.app["db"].acquire() as conn:
            sent = await conn.fetchval("SELECT sent FROM digests WHERE day = current_date")
            if not sent:
                await conn.execute("INSERT INTO digests (day, sent) VALUES (current_date, true)")
    return web.json_response({"sent": True})


async def health(request):
    return web.json_response({"ok": True, "headlines": len(feeds.HEADLINES)})


async def on_startup(app):
    app["db"] = await asyncpg.create_pool("postgresql://chat@db/chat")  # trap: pool made at start-up
    app["sockets"] = []  # trap: start-up
    app["messages_sent"] = 0  # trap: start-up
    app["ticker"] = asyncio.create_task(feeds.poll_headlines())  # trap: start-up


async def on_cleanup(app):
    app["ticker"].cancel()
    await app["db"].close()


def make_app() -> web.Application:
    app = web.Application(middlewares=[auth])
    app.add_routes(routes)  # trap: route registration
    app.router.add_get("/health", health)
    app.router.add_view("/rooms/{name}", rooms.RoomView)
    app.on_startup.append(on_startup)  # trap: signal registration at start-up
    app.on_cleanup.append(on_cleanup)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), port=8080)
