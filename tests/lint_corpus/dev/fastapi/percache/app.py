"""Deliberate per-process caches (SL119, info) next to the stores they are not."""

import httpx
from asyncache import cached
from cachetools import TTLCache
from fastapi import FastAPI, WebSocket

app = FastAPI()
QUOTES = TTLCache(maxsize=500, ttl=120)
# per-process cache: a minute of staleness per worker is fine here
BADGES = {}
ARCHIVE = TTLCache(maxsize=500, ttl=90 * 86400)


class Hub:
    def __init__(self) -> None:
        self.rooms: dict[str, set[WebSocket]] = {}

    def join(self, room: str, websocket: WebSocket) -> None:
        if room not in self.rooms:
            self.rooms[room] = set()  # expect: SL112
        self.rooms[room].add(websocket)  # expect: SL112

    def leave(self, room: str, websocket: WebSocket) -> None:
        self.rooms[room].discard(websocket)  # trap: removal is part of the registry finding


class Notifier:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub


hub = Hub()
notifier = Notifier(hub)


@cached(TTLCache(maxsize=64, ttl=300))  # expect: SL119
async def fx(currency: str) -> float:
    return httpx.get(f"https://fx.example/{currency}").json()["rate"]


@app.get("/quote/{sym}")
async def quote(sym: str) -> dict:
    QUOTES[sym] = await fx(sym)  # expect: SL119
    BADGES[sym] = "hot"  # expect: SL119
    ARCHIVE[sym] = QUOTES[sym]  # expect: SL102
    return {"sym": sym}


@app.websocket("/ws/{room}")
async def ws(websocket: WebSocket, room: str) -> None:
    notifier.hub.join(room, websocket)
    notifier.hub.leave(room, websocket)
