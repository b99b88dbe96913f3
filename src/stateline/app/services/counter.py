"""Request counter: the seed's "good" example of shared state, Redis ``INCR``.

- ``POST /api/counter/incr`` → ``{"value": n}``, the value after this increment;
- ``GET /api/counter`` → ``{"value": n}`` (0 before the first increment).

``INCR`` is atomic in Redis, so increments through any mix of instances give
consecutive values; compare ``/api/demo/local-counter``, which keeps its count
in the process and so gives each instance its own.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.context import stores
from stateline.app.idempotency_http import idempotent, redis_write
from stateline.app.responses import json_response
from stateline.app.spec import Operation, Reply, api, json_object

COUNTER_KEY = "stateline:counter:{requests}"


_VALUE = json_object({"value": {"type": "integer"}}, ("value",))


@api(Operation("Add one to the shared counter (Redis INCR)", tag="counter",
               replies=(Reply(200, "The value after this increment", _VALUE),)))
@idempotent("POST /api/counter/incr", tag="requests")  # the counter key's hash tag
async def incr(request: Request) -> Response:
    return await redis_write(request, "INCR", COUNTER_KEY,
                             respond=lambda value: json_response({"value": value}))


@api(Operation("Read the shared counter", tag="counter",
               replies=(Reply(200, "The current value (0 before the first increment)", _VALUE),)))
async def read(request: Request) -> Response:
    value = await stores(request).redis.get(COUNTER_KEY)
    return json_response({"value": int(value or 0)})


routes = [
    Route("/api/counter/incr", incr, methods=["POST"]),
    Route("/api/counter", read, methods=["GET"]),
]
