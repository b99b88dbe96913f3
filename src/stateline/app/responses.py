"""JSON responses through orjson.

orjson is the fastest JSON encoder available to us, and the calculator
benchmark shows it. It writes NaN and infinities as ``null``; the services
never hand it one, because they check every number for finiteness first.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)
