"""Currency converter: stateless, because the rates are data in the stateful tier.

``GET /api/currency/convert?amount=&from=&to=`` →
``{"amount", "from", "to", "rate", "result", "as_of"}``.

The output depends on the input and on the rates table, and the table lives in
SQL (the source of truth). Each instance answers from a whole-table copy that
one background task re-reads every second (``app/reference_rates.py``: why
that is correct across replicas), so a conversion costs no store round trip;
``stateline rates load`` changes what every instance answers within that
second, with no restart and nothing to invalidate. ``as_of`` is the date of
the ECB reference rates used; the shipped snapshot's date until someone loads
newer ones. Rates are quoted per euro, so
a cross rate is ``to_rate / from_rate``.
"""

from __future__ import annotations

import math
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.context import stores
from stateline.app.errors import ApiError
from stateline.app.responses import json_response
from stateline.app.spec import Operation, Param, Reply, api, json_object
from stateline.app.validate import NUMBER_SCHEMA, query_number, query_params
from stateline.stores import sql

#: Largest amount converted; keeps results finite and meaningful.
MAX_AMOUNT = 1e15


def _code(raw: str | None, name: str) -> str:
    if raw is None or raw == "":
        raise ApiError(400, "missing_parameter", f"query parameter {name!r} is required")
    code = raw.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ApiError(400, "invalid_currency", f"{name} must be a 3-letter currency code")
    return code


def _amount(raw: str | None) -> float:
    amount = float(query_number(raw, "amount"))
    if abs(amount) > MAX_AMOUNT:
        raise ApiError(400, "invalid_number", f"amount must be at most {MAX_AMOUNT:g} in size")
    return amount


_CODE_SCHEMA = {"type": "string", "pattern": "^[A-Za-z]{3}$",
                "description": "an ISO 4217 code (case does not matter)"}


@api(Operation(
    "Convert an amount between currencies at the ECB reference rates in SQL", tag="currency",
    params=(
        Param("amount", "query", NUMBER_SCHEMA, required=True),
        Param("from", "query", _CODE_SCHEMA, required=True),
        Param("to", "query", _CODE_SCHEMA, required=True),
    ),
    replies=(Reply(200, "The converted amount", json_object({
        "amount": {"type": "number"}, "from": {"type": "string"}, "to": {"type": "string"},
        "rate": {"type": "number"}, "result": {"type": "number"},
        "as_of": {"type": "string", "format": "date"},
    }, ("amount", "from", "to", "rate", "result", "as_of"))),),
    errors={400: "missing_parameter, invalid_number, invalid_currency, result_out_of_range",
            422: "unknown_currency"},
))
async def convert(request: Request) -> Response:
    params = query_params(request.scope["query_string"])
    amount = _amount(params.get("amount"))
    src, dst = _code(params.get("from"), "from"), _code(params.get("to"), "to")
    held = stores(request)
    found = held.rates.fresh(time.monotonic())
    if found is None:  # no fresh copy (the refresher cannot read SQL): read it, as before
        found = await sql.get_rates(held.sql, [src, dst])
    src_row, dst_row = found.get(src), found.get(dst)
    if src_row is None or dst_row is None:
        missing = [code for code, row in ((src, src_row), (dst, dst_row)) if row is None]
        raise ApiError(422, "unknown_currency", "no reference rate for " + ", ".join(missing))
    rate = dst_row.rate / src_row.rate
    result = amount * rate
    if not math.isfinite(result):
        raise ApiError(400, "result_out_of_range", "the converted amount is out of range")
    # orjson writes a date as ISO 8601 text itself, in C.
    as_of = src_row.as_of if src_row.as_of >= dst_row.as_of else dst_row.as_of
    return json_response({
        "amount": amount, "from": src, "to": dst, "rate": rate,
        "result": round(result, 6), "as_of": as_of,
    })


routes = [Route("/api/currency/convert", convert, methods=["GET"])]
