"""The rooms endpoints of a shard (docs/api.md, "Rooms"), as plain Starlette routes.

Every path starts ``/api/rooms/{room_id}`` so the gateway's ``rendezvous``
balancer keys on path segment 3 and sends a room to its owner. Bad input is a
4xx JSON error like everywhere else; a shard that does not own the room
answers 421 ``misdirected`` (with ``X-Stateline-Owner`` when it knows better),
which the gateway retries on another instance because nothing was done.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.bodies import read_json_object
from stateline.app.errors import error_response
from stateline.app.responses import json_response
from stateline.app.validate import identifier, json_number
from stateline.shards.rooms import Refusal, RoomError, RoomService

#: This process's rooms: one shard incarnation per process, bound by ``server.py`` at
#: start-up. A module-level object on purpose: it *is* the process's state, and
#: ``stateline lint`` follows handlers into it (and reports it, but for the suppressions).
ROOMS = RoomService()


def ready() -> None:
    if not ROOMS.ready:
        raise Refusal(503, "not_ready", "this shard is starting; retry shortly", retry_after=0.5)


def _room(request: Request) -> str:
    return identifier(request.path_params["room_id"], "room_id")


async def read_room(request: Request) -> Response:
    ready()
    return json_response(await ROOMS.read(_room(request)))


async def read_position(request: Request) -> Response:
    player = identifier(request.path_params["player_id"], "player_id")
    ready()
    return json_response(await ROOMS.position(_room(request), player))


async def join(request: Request) -> Response:
    room = _room(request)
    data = await read_json_object(request)
    raw = data.get("player_id")
    player = identifier(raw if isinstance(raw, str) else "", "player_id")
    x = json_number(data, "x") if "x" in data else 0.0
    y = json_number(data, "y") if "y" in data else 0.0
    ready()
    created, body = await ROOMS.join(room, player, x, y)
    return json_response(body, status=201 if created else 200)


async def move(request: Request) -> Response:
    room = _room(request)
    player = identifier(request.path_params["player_id"], "player_id")
    data = await read_json_object(request)
    x, y = json_number(data, "x"), json_number(data, "y")
    ready()
    return json_response(await ROOMS.move(room, player, x, y))


async def leave(request: Request) -> Response:
    room = _room(request)
    player = identifier(request.path_params["player_id"], "player_id")
    ready()
    await ROOMS.leave(room, player)
    return Response(status_code=204)


async def refusal_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    response = error_response(exc.status, exc.code, exc.message)
    if exc.owner:
        response.headers["x-stateline-owner"] = exc.owner
    if exc.retry_after is not None:
        response.headers["retry-after"] = str(max(1, round(exc.retry_after)))
    return response


async def room_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoomError)
    return error_response(exc.status, exc.code, exc.message)


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    Refusal: refusal_handler,
    RoomError: room_error_handler,
}

routes = [
    Route("/api/rooms/{room_id}", read_room, methods=["GET"]),
    Route("/api/rooms/{room_id}/players", join, methods=["POST"]),
    Route("/api/rooms/{room_id}/players/{player_id}", leave, methods=["DELETE"]),
    Route("/api/rooms/{room_id}/players/{player_id}/position", move, methods=["PUT"]),
    Route("/api/rooms/{room_id}/players/{player_id}/position", read_position, methods=["GET"]),
]
