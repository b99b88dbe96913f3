"""Chat rooms over WebSockets, with presence and a typing indicator."""

import random
import time
from collections import defaultdict, deque

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse
from slowapi import Limiter
from slowapi.util import get_remote_address
from starlette.middleware.base import BaseHTTPMiddleware

from presence import Presence, presence

ROOM_SOCKETS = defaultdict(set)
BY_USER: dict[str, WebSocket] = {}
HISTORY: dict[str, deque] = {}
_active: dict[str, float] = {}
_errors: list[str] = []
_last_message: dict | None = None
MAX_HISTORY = 100  # trap: constant

limiter = Limiter(key_func=get_remote_address, storage_uri="memory://")  # expect: SL109


def track(request: Request) -> None:
    user = request.headers.get("x-user", "anon")
    _active[user] = time.time()  # expect: SL102


router = APIRouter(prefix="/rooms", dependencies=[Depends(track)])


class SlowRequests(BaseHTTPMiddleware):
    slow: list[str] = []

    async def dispatch(self, request, call_next):
        start = time.monotonic()
        response = await call_next(request)
        if time.monotonic() - start > 0.5:
            self.slow.append(request.url.path)  # expect: SL105
        return response


@router.websocket("/{room}/ws")
async def join(websocket: WebSocket, room: str, user: str):
    await websocket.accept()
    ROOM_SOCKETS[room].add(websocket)  # expect: SL112
    BY_USER[user] = websocket  # expect: SL112
    async for text in websocket.iter_text():
        for peer in ROOM_SOCKETS[room]:
            await peer.send_text(text)


def remember(room: str, message: dict) -> None:
    global _last_message
    _last_message = message  # expect: SL113
    HISTORY.setdefault(room, deque(maxlen=MAX_HISTORY)).append(message)  # expect: SL113


@router.post("/{room}/messages")
@limiter.limit("20/minute")
async def post_message(request: Request, room: str, tasks: BackgroundTasks):
    message = await request.json()
    tasks.add_task(remember, room, message)
    return {"queued": True}


@router.get("/{room}/messages")
async def messages(room: str):
    return {"items": list(HISTORY.get(room, ())), "last": _last_message}


@router.get("/{room}/pick")
async def pick_speaker(room: str):
    random.seed()  # expect: SL115
    members = sorted(presence().members.get(room, ()))
    return {"speaker": random.choice(members) if members else None}


@router.post("/{room}/presence/{user}")
async def here(room: str, user: str, p: Presence = Depends(presence)):
    p.members.setdefault(room, set()).add(user)  # expect: SL117
    return {"room": room, "members": sorted(p.members[room])}


app = FastAPI()
app.state.limiter = limiter  # trap: import time
app.add_middleware(SlowRequests)  # trap: middleware registration
app.include_router(router)


@app.exception_handler(ValueError)
async def value_error(request: Request, exc: ValueError):
    _errors.append(str(exc))  # expect: SL102
    return JSONResponse({"error": {"code": "bad_value", "message": str(exc)}}, status_code=400)
