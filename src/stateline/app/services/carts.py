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
from stateline.app.validate import identifier, json_int, json_text

#: Most units one request may add to a line.
MAX_QTY = 10_000


def cart_key(user_id: str) -> str:
    return f"stateline:cart:{{{user_id}}}"


async def get_cart(request: Request) -> Response:
    user_id = identifier(request.path_params["user_id"], "user_id")
    lines = await stores(request).redis.hgetall(cart_key(user_id))
    items = [{"sku": sku, "qty": int(qty)} for sku, qty in sorted(lines.items())]
    return json_response({"user_id": user_id, "items": items})


def _cart_owner(request: Request) -> str:
    """The idempotency scope of a cart write: its user, also the cart key's hash tag."""
    return identifier(request.path_params["user_id"], "user_id")


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
    except ResponseError as exc:  # only an overflowing line total gets here
        raise ApiError(409, "quantity_overflow", f"line {sku} cannot grow: {exc}") from None


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
