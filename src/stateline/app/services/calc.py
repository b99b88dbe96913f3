"""Calculator: the seed's purest stateless service, ``add(2, 3) = 5``.

``GET /api/calc/{add|sub|mul|div|pow}?a=&b=`` → ``{"result": n}``.

The answer depends on the query alone, so any instance can serve any request.
The only care it needs is bounded work: ``pow`` is refused *before* computing
when its result would leave the float range (``10 ** 100000000`` would
otherwise burn seconds of CPU and megabytes of digits), and every result must
be a finite number that JSON can carry. Integers stay integers while they fit
in 64 bits (what JSON clients can read back exactly); beyond that the result
is a float.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.errors import ApiError
from stateline.app.responses import json_response
from stateline.app.spec import Operation, Param, Reply, api, json_object
from stateline.app.validate import NUMBER_SCHEMA, query_number, query_params

Number = int | float

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
#: log2 of the largest finite float: a pow whose result would exceed it is refused.
MAX_LOG2 = math.log2(1.7976931348623157e308)

_BINARY: dict[str, Callable[[Number, Number], Number]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
}
OPERATIONS = frozenset({*_BINARY, "div", "pow"})


def _out_of_range() -> ApiError:
    return ApiError(400, "result_out_of_range", "the result is too large to represent")


def _fit(value: Number) -> Number:
    """An int that fits in int64, else a finite float; 400 if neither."""
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return value
        try:
            value = float(value)
        except OverflowError:
            raise _out_of_range() from None
    if not math.isfinite(value):
        raise _out_of_range()
    return value


def _pow(a: Number, b: Number) -> Number:
    if a == 0 and b < 0:
        raise ApiError(400, "division_by_zero", "zero cannot be raised to a negative power")
    if a < 0 and not float(b).is_integer():
        raise ApiError(400, "domain_error", "a negative base needs an integer exponent")
    if abs(a) not in (0, 1) and b * math.log2(abs(a)) > MAX_LOG2:
        # Bounded before computing: log2 of the result says it leaves the float range.
        raise _out_of_range()
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        return a**b
    try:
        return math.pow(a, b)
    except OverflowError:
        raise _out_of_range() from None


def compute(op: str, a: Number, b: Number) -> Number:
    """The result of ``a op b``, bounded in time and size (pure: the unit tests drive it)."""
    if op == "div":
        if b == 0:
            raise ApiError(400, "division_by_zero", "division by zero")
        if isinstance(a, int) and isinstance(b, int) and a % b == 0:
            return _fit(a // b)
        try:
            return _fit(a / b)
        except OverflowError:
            raise _out_of_range() from None
    if op == "pow":
        return _fit(_pow(a, b))
    func = _BINARY.get(op)
    if func is None:
        raise _unknown(op)
    return _fit(func(a, b))


def _unknown(op: str) -> ApiError:
    return ApiError(404, "unknown_operation",
                    f"unknown operation {op[:20]!r}; use one of " + ", ".join(sorted(OPERATIONS)))


@api(Operation(
    "Compute a op b", tag="calc", stores=False,
    params=(
        Param("op", "path", {"type": "string", "enum": sorted(OPERATIONS)}),
        Param("a", "query", NUMBER_SCHEMA, required=True),
        Param("b", "query", NUMBER_SCHEMA, required=True),
    ),
    replies=(Reply(200, "The result: an integer while it fits in 64 bits, else a float",
                   json_object({"result": {"type": "number"}}, ("result",))),),
    errors={400: "missing_parameter, invalid_number, division_by_zero, domain_error, "
                 "result_out_of_range",
            404: "unknown_operation"},
))
async def calculate(request: Request) -> Response:
    op = request.path_params["op"]
    if op not in OPERATIONS:  # before parsing: the path is wrong whatever the query says
        raise _unknown(op)
    params = query_params(request.scope["query_string"])
    a = query_number(params.get("a"), "a")
    b = query_number(params.get("b"), "b")
    return json_response({"result": compute(op, a, b)})


routes = [Route("/api/calc/{op}", calculate, methods=["GET"])]
