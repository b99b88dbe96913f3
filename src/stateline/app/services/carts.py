"""Shopping cart: the seed's ``getCart(userId)``, one Redis hash per user.

- ``GET /api/carts/{user_id}`` → ``{"user_id", "items": [{"sku", "qty"}]}`` (sorted by sku);
- ``POST /api/carts/{user_id}/items {"sku", "qty"}`` → ``{"user_id", "sku", "qty"}``,
  where ``qty`` is the line's new total (adding to an existing line adds up);
- ``DELETE /api/carts/{user_id}/items/{sku}`` → 204 (also when the line was absent,
  so a retried delete is harmless).

Every write is one Redis round trip: ``HINCRBY`` both creates and adds to a
line, atomically, so two instances adding to one cart at once both count. The
key ``stateline:cart:{<user_id>}`` carries the user id as its hash tag: one
cart lives in one Redis Cluster slot.
"""

from __future__ import annotations

from redis.exceptions import ResponseError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.bodies import read_json_object
from stateline.app.context import stores
from stateline.app.errors import ApiError
from stateline.app.idempotency_http import idempotent, redis_write
from stateline.app.responses import json_response
from stateline.app.spec import JSON, Body, Operation, Param, Reply, api, json_object
from stateline.app.validate import IDENT_SCHEMA, identifier, int_schema, json_int, json_text

#: Most units one request may add to a line.
MAX_QTY = 10_000


def is_overflow(exc: ResponseError) -> bool:
    """Whether Redis refused ``HINCRBY`` because the line total would leave 64 bits.

    Redis says ``ERR increment or decrement would overflow``; every other error
    reply is about the store, not about this request.
    """
    return "increment or decrement would overflow" in str(exc)


def cart_key(user_id: str) -> str:
    return f"stateline:cart:{{{user_id}}}"


_USER = Param("user_id", "path", IDENT_SCHEMA)
_QTY = int_schema(1, MAX_QTY)
_LINE = json_object({"sku": IDENT_SCHEMA, "qty": {"type": "integer"}}, ("sku", "qty"))


@api(Operation(
    "Read a cart, lines sorted by sku", tag="carts", params=(_USER,),
    replies=(Reply(200, "The cart (empty when never written)", json_object(
        {"user_id": {"type": "string"}, "items": {"type": "array", "items": _LINE}},
        ("user_id", "items"))),),
    errors={422: "invalid_field"},
))
async def get_cart(request: Request) -> Response:
    user_id = identifier(request.path_params["user_id"], "user_id")
    lines = await stores(request).redis.hgetall(cart_key(user_id))
    items = [{"sku": sku, "qty": int(qty)} for sku, qty in sorted(lines.items())]
    return json_response({"user_id": user_id, "items": items})


def _cart_owner(request: Request) -> str:
    """The idempotency scope of a cart write: its user, also the cart key's hash tag."""
    return identifier(request.path_params["user_id"], "user_id")


@api(Operation(
    "Add units to a cart line (creates it)", tag="carts", params=(_USER,),
    body=Body({JSON: json_object({"sku": IDENT_SCHEMA, "qty": _QTY}, ("sku", "qty"))}),
    replies=(Reply(200, "The line's new total", json_object(
        {"user_id": {"type": "string"}, "sku": {"type": "string"}, "qty": {"type": "integer"}},
        ("user_id", "sku", "qty")), links={
            "GetCart": {"operationId": "carts.get_cart",
                        "parameters": {"user_id": "$request.path.user_id"}},
            "RemoveItem": {"operationId": "carts.remove_item",
                           "parameters": {"user_id": "$request.path.user_id",
                                          "sku": "$response.body#/sku"}},
        }),),
    errors={409: "quantity_overflow"},
))
@idempotent("POST /api/carts/{user_id}/items", tag=_cart_owner)
async def add_item(request: Request) -> Response:
    user_id = identifier(request.path_params["user_id"], "user_id")
    data = await read_json_object(request)
    sku = identifier(json_text(data, "sku", 64), "sku")
    qty = json_int(data, "qty", 1, MAX_QTY)
    try:
        return await redis_write(
            request, "HINCRBY", cart_key(user_id), sku, qty,
            respond=lambda total: json_response({"user_id": user_id, "sku": sku, "qty": total}))
    except ResponseError as exc:
        if not is_overflow(exc):
            raise  # CLUSTERDOWN, MISCONF, READONLY ...: the store's trouble, 503 (errors.py)
        raise ApiError(409, "quantity_overflow",
                       f"line {sku} cannot grow by {qty}: its total would overflow") from None


@api(Operation(
    "Remove a cart line (also when absent: a retried delete is harmless)", tag="carts",
    params=(_USER, Param("sku", "path", IDENT_SCHEMA)),
    replies=(Reply(204, "Removed"),),
    errors={422: "invalid_field"},
))
@idempotent("DELETE /api/carts/{user_id}/items/{sku}", tag=_cart_owner)
async def remove_item(request: Request) -> Response:
    user_id = identifier(request.path_params["user_id"], "user_id")
    sku = identifier(request.path_params["sku"], "sku")
    return await redis_write(request, "HDEL", cart_key(user_id), sku,
                             respond=lambda _: Response(status_code=204))


routes = [
    Route("/api/carts/{user_id}", get_cart, methods=["GET"]),
    Route("/api/carts/{user_id}/items", add_item, methods=["POST"]),
    Route("/api/carts/{user_id}/items/{sku}", remove_item, methods=["DELETE"]),
]
