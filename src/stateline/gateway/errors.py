"""The gateway's own answers: JSON errors and small JSON documents.

Every error the gateway produces, whether it is the client's fault (4xx) or
an upstream's (502/503/504), has the project-wide body
``{"error": {"code", "message"}}`` so that clients and the lab can tell a
gateway refusal from an app's answer by shape, not by guessing.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson


def reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Unknown"


def json_response(
    status: int,
    document: Any,
    *,
    keep_alive: bool = True,
    head_only: bool = False,
    extra: tuple[tuple[bytes, bytes], ...] = (),
    content_type: bytes = b"application/json",
) -> bytes:
    """A complete HTTP/1.1 response with a JSON (or given type) body."""
    body = document if isinstance(document, bytes) else orjson.dumps(document)
    parts = [
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
        % (status, reason(status), content_type, len(body))
    ]
    for name, value in extra:
        parts.append(b"%s: %s\r\n" % (name, value))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    if not head_only:
        parts.append(body)
    return b"".join(parts)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    keep_alive: bool = True,
    head_only: bool = False,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> bytes:
    """A JSON error response: ``{"error": {"code": ..., "message": ...}}``."""
    return json_response(
        status,
        {"error": {"code": code, "message": message}},
        keep_alive=keep_alive,
        head_only=head_only,
        extra=extra,
    )
