"""The pitfall, on purpose: a counter kept in this process's memory.

``POST /api/demo/local-counter`` → ``{"value": n, "instance": ID, "warning": ...}``.

This is the seed's bad example and the only state stateline keeps in an app
process. Behind a round-robin gateway each instance counts on its own, so
consecutive calls answer 1, 1, 1, 2, 2, 2 ... instead of 1..6, and a restart
forgets the count. ``POST /api/counter/incr`` is the same feature done right
(Redis ``INCR``). ``stateline lint`` would report the write below as SL101; it
carries a suppression with its reason.
"""

# The suppression comment below is longer than a line may be: that line is exempt.
# ruff: noqa: E501

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.context import context
from stateline.app.responses import json_response
from stateline.app.spec import Operation, Reply, api, json_object

WARNING = (
    "this counter lives in the memory of one app instance: behind a load balancer each "
    "instance counts separately and a restart resets it. Use POST /api/counter/incr."
)

_local_count = 0


@api(Operation(
    "The pitfall: a counter in this instance's memory", tag="demo", stores=False,
    replies=(Reply(200, "This instance's own count", json_object({
        "value": {"type": "integer"}, "instance": {"type": "string"},
        "warning": {"type": "string"}}, ("value", "instance", "warning"))),),
))
async def local_counter(request: Request) -> Response:
    global _local_count
    _local_count += 1  # stateline: allow[SL101] the seed's deliberate bad example, kept to demonstrate the pitfall
    return json_response(
        {"value": _local_count, "instance": context(request).instance_id, "warning": WARNING}
    )


routes = [Route("/api/demo/local-counter", local_counter, methods=["POST"])]
