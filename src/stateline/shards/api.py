"""The rooms endpoints of a shard (docs/api.md, "Rooms"), as plain Starlette routes.

Every path starts ``/api/rooms/{room_id}`` so the gateway's ``rendezvous``
balancer keys on path segment 3 and sends a room to its owner. Bad input is a
4xx JSON error like everywhere else; a shard that does not own the room
answers 421 ``misdirected`` (with ``X-Stateline-Owner`` when it knows better),
which the gateway retries on another instance because nothing was done.

Each handler declares its contract (``@api(Operation(...))``, ``app/spec.py``);
the app's published OpenAPI document includes these routes, since it
describes the API as seen through the gateway. Importing this module binds
and starts nothing (``ROOMS`` is bound by ``server.py``), so the app can read
the declarations cheaply.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.bodies import read_json_object
from stateline.app.errors import error_response
from stateline.app.responses import json_response
from stateline.app.spec import JSON, RETRY_AFTER, Body, Operation, Param, Reply, api, json_object
from stateline.app.validate import IDENT_SCHEMA, identifier, json_number
from stateline.shards.rooms import COORD_LIMIT, MAX_PLAYERS, Refusal, RoomError, RoomService

#: This process's rooms: one shard incarnation per process, bound by ``server.py`` at
#: start-up. A module-level object on purpose: it *is* the process's state, and
#: ``stateline lint`` follows handlers into it (and reports it, but for the suppressions).
ROOMS = RoomService()


_ROOM = Param("room_id", "path", IDENT_SCHEMA, "the room; the gateway routes on it")
_PLAYER = Param("player_id", "path", IDENT_SCHEMA)
_COORD = {"type": "number", "minimum": -COORD_LIMIT, "maximum": COORD_LIMIT}
_POSITION = json_object({"room_id": {"type": "string"}, "player_id": {"type": "string"},
                         "x": {"type": "number"}, "y": {"type": "number"}},
                        ("room_id", "player_id", "x", "y"))
_VIEW = json_object({"room_id": {"type": "string"}, "players": {
    "type": "array", "maxItems": MAX_PLAYERS, "items": json_object(
        {"player_id": {"type": "string"}, "x": {"type": "number"}, "y": {"type": "number"}},
        ("player_id", "x", "y"))}}, ("room_id", "players"))
_POSITION_LINK = {"GetRoomPosition": {"operationId": "api.read_position", "parameters": {
    "room_id": "$request.path.room_id", "player_id": "$response.body#/player_id"}}}
#: Every room operation can be refused unprocessed (421, retried by the gateway on the
#: owner) or be unavailable (503) while its shard starts or reactivates the room.
_REFUSALS = {421: "misdirected", 503: "not_ready, room_unavailable"}
_REFUSAL_HEADERS = {
    421: {"X-Stateline-Owner": {"schema": {"type": "string"},
                                "description": "the shard this one thinks owns the room"}},
    503: {"Retry-After": RETRY_AFTER},
}
_ROOM_OP = {"tag": "rooms", "error_headers": _REFUSAL_HEADERS}


def ready() -> None:
    if not ROOMS.ready:
        raise Refusal(503, "not_ready", "this shard is starting; retry shortly", retry_after=0.5)


def _room(request: Request) -> str:
    return identifier(request.path_params["room_id"], "room_id")


@api(Operation("A room and the players in it (activates the room on its owner)",
               params=(_ROOM,), replies=(Reply(200, "The room", _VIEW),),
               errors={**_REFUSALS, 422: "invalid_field"}, **_ROOM_OP))
async def read_room(request: Request) -> Response:
    ready()
    return json_response(await ROOMS.read(_room(request)))


@api(Operation("A player's position in a room", params=(_ROOM, _PLAYER),
               replies=(Reply(200, "The position", _POSITION),),
               errors={**_REFUSALS, 404: "not_in_room", 422: "invalid_field"}, **_ROOM_OP))
async def read_position(request: Request) -> Response:
    player = identifier(request.path_params["player_id"], "player_id")
    ready()
    return json_response(await ROOMS.position(_room(request), player))


@api(Operation(
    "Join a room at (x, y), 0 by default", params=(_ROOM,),
    body=Body({JSON: json_object({"player_id": IDENT_SCHEMA, "x": _COORD, "y": _COORD},
                                 ("player_id",))}),
    replies=(Reply(201, "Joined", _POSITION, links=_POSITION_LINK),
             Reply(200, "Already in the room: where the player is", _POSITION,
                   links=_POSITION_LINK)),
    errors={**_REFUSALS, 400: "out_of_bounds", 409: "room_full"}, **_ROOM_OP))
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


@api(Operation(
    "Move a player in a room", params=(_ROOM, _PLAYER),
    body=Body({JSON: json_object({"x": _COORD, "y": _COORD}, ("x", "y"))}),
    replies=(Reply(200, "The new position", _POSITION, links=_POSITION_LINK),),
    errors={**_REFUSALS, 400: "out_of_bounds", 404: "not_in_room"}, **_ROOM_OP))
async def move(request: Request) -> Response:
    room = _room(request)
    player = identifier(request.path_params["player_id"], "player_id")
    data = await read_json_object(request)
    x, y = json_number(data, "x"), json_number(data, "y")
    ready()
    return json_response(await ROOMS.move(room, player, x, y))


@api(Operation("Leave a room", params=(_ROOM, _PLAYER), replies=(Reply(204, "Left"),),
               errors={**_REFUSALS, 404: "not_in_room", 422: "invalid_field"}, **_ROOM_OP))
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
