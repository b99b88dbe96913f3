"""Player positions: the seed's game-server example, routed by key in Redis Cluster.

- ``PUT /api/players/{player_id}/position {"x", "y"}`` → ``{"player_id", "x", "y"}``;
- ``GET /api/players/{player_id}/position`` → the same, or 404 for an unknown player.

Each player is one hash ``stateline:player:{<player_id>}`` with fields x and y,
written in one ``HSET``: the key's hash tag is the player id, so the cluster
client sends each player's reads and writes to the one master that owns its
slot ("requests routed based on key"). Coordinates must be finite numbers.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.bodies import read_json_object
from stateline.app.context import stores
from stateline.app.errors import ApiError
from stateline.app.idempotency_http import idempotent, redis_write
from stateline.app.responses import json_response
from stateline.app.spec import JSON, Body, Operation, Param, Reply, api, json_object
from stateline.app.validate import IDENT_SCHEMA, identifier, json_number


def player_key(player_id: str) -> str:
    return f"stateline:player:{{{player_id}}}"


_PLAYER = Param("player_id", "path", IDENT_SCHEMA)
_POSITION = json_object({"player_id": {"type": "string"}, "x": {"type": "number"},
                         "y": {"type": "number"}}, ("player_id", "x", "y"))
_GET_LINK = {"GetPosition": {"operationId": "players.get_position",
                             "parameters": {"player_id": "$request.path.player_id"}}}


@api(Operation(
    "Set a player's position", tag="players", params=(_PLAYER,),
    body=Body({JSON: json_object({"x": {"type": "number"}, "y": {"type": "number"}},
                                 ("x", "y"))}),
    replies=(Reply(200, "The stored position", _POSITION, links=_GET_LINK),),
))
@idempotent("PUT /api/players/{player_id}/position",
            tag=lambda request: identifier(request.path_params["player_id"], "player_id"))
async def put_position(request: Request) -> Response:
    player_id = identifier(request.path_params["player_id"], "player_id")
    data = await read_json_object(request)
    x, y = json_number(data, "x"), json_number(data, "y")
    return await redis_write(
        request, "HSET", player_key(player_id), "x", repr(x), "y", repr(y),
        respond=lambda _: json_response({"player_id": player_id, "x": x, "y": y}))


@api(Operation(
    "Read a player's position", tag="players", params=(_PLAYER,),
    replies=(Reply(200, "The position", _POSITION),),
    errors={404: "not_found", 422: "invalid_field"},
))
async def get_position(request: Request) -> Response:
    player_id = identifier(request.path_params["player_id"], "player_id")
    x, y = await stores(request).redis.hmget(player_key(player_id), ["x", "y"])
    if x is None or y is None:
        raise ApiError(404, "not_found", f"no position for player {player_id}")
    return json_response({"player_id": player_id, "x": float(x), "y": float(y)})


routes = [
    Route("/api/players/{player_id}/position", put_position, methods=["PUT"]),
    Route("/api/players/{player_id}/position", get_position, methods=["GET"]),
]
