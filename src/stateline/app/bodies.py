"""Reading request bodies, with a limit on each.

Every body is read through :func:`read_body`, which refuses an oversized
request from its ``Content-Length`` before reading a byte and again while
streaming (a client may lie, or send chunked data with no length at all), so
no handler can be made to buffer more than its limit.

A JSON body must say so: ``Content-Type: application/json`` (or a
``+json`` type), else 415. A browser sends a cross-site form or ``text/plain``
POST without asking the server first (a CORS "simple request"), but never an
``application/json`` one, so this check is what keeps another site's page
from creating users or sessions with a visitor's browser.
"""

from __future__ import annotations

import json
import math
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


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON: ``application/json`` or ``application/*+json``."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def has_overflowing_number(body: bytes) -> bool:
    """Whether ``body`` is JSON that holds a number literal beyond the float range.

    orjson refuses such a document (``1e999``) as a parse error; the standard
    library reads it, so it tells an out-of-range number (the client's number
    is the problem: 422) from text that is not JSON at all (400). Only called
    after orjson failed, on a body already bounded by the JSON limit.
    """
    overflow = False

    def number(text: str) -> float:
        nonlocal overflow
        value = float(text)  # digits of any length: never raises, may be inf
        if not math.isfinite(value):
            overflow = True
        return 0.0

    def constant(text: str) -> None:
        raise ValueError(f"{text} is not JSON")  # NaN and Infinity literals

    try:
        json.loads(body, parse_float=number, parse_int=number, parse_constant=constant)
    except (ValueError, RecursionError):
        return False
    return overflow


async def read_json_object(request: Request, limit: int = JSON_BODY_LIMIT) -> dict[str, Any]:
    """The body as a JSON object.

    415 unless the Content-Type is JSON; 400 if the body is not JSON; 422 if it
    is not an object or holds a number beyond the float range. orjson refuses
    NaN and Infinity, which JSON has no words for.
    """
    if not is_json_media_type(request.headers.get("content-type")):
        raise ApiError(415, "unsupported_media_type",
                       "send the body as JSON with Content-Type: application/json")
    body = await read_body(request, limit)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if has_overflowing_number(body):
            raise ApiError(422, "invalid_number",
                           "a number in the body is beyond the range of a double") from None
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_body", "request body must be a JSON object")
    return data
