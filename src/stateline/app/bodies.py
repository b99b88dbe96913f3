"""Reading request bodies, with a limit on each.

Every body is read through :func:`read_body`, which refuses an oversized
request from its ``Content-Length`` before reading a byte and again while
streaming (a client may lie, or send chunked data with no length at all), so
no handler can be made to buffer more than its limit.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from stateline.app.errors import ApiError

#: Largest JSON request body any endpoint accepts.
JSON_BODY_LIMIT = 64 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed ``limit`` bytes."""
    too_large = ApiError(413, "payload_too_large", f"request body is larger than {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise ApiError(400, "bad_content_length", "Content-Length is not a number")
        if int(declared) > limit:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, limit: int = JSON_BODY_LIMIT) -> dict[str, Any]:
    """The body as a JSON object: 400 if it is not JSON, 422 if it is not an object.

    orjson refuses NaN and Infinity, which JSON has no words for.
    """
    body = await read_body(request, limit)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_body", "request body must be a JSON object")
    return data
