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


def head_of(response: bytes) -> bytes:
    """A complete local response without its body: the answer to HEAD (RFC 9110 §9.3.2).

    Its Content-Length stays, saying what a GET would have got; a body after
    the head would be read by a kept-alive client as its next response.
    """
    end = response.find(b"\r\n\r\n")
    return response if end < 0 else response[:end + 4]


_REASONS: dict[int, bytes] = {}


def cached_reason(status: int) -> bytes:
    """The standard reason phrase, memoised (an instance's own phrase means nothing, RFC 9112)."""
    r = _REASONS.get(status)
    if r is None:
        r = _REASONS[status] = reason(status)
    return r


#: What the client gets when an attempt failed and no retry follows, by ``retry.Failure`` name.
FAILURE_ANSWERS: dict[str, tuple[int, str, str]] = {
    "CONNECT_FAILED": (502, "upstream_unreachable", "could not connect to an instance"),
    "STALE_CONNECTION": (502, "upstream_reset", "the instance closed the connection"),
    "RESET_AFTER_SEND": (502, "upstream_reset", "the instance closed the connection"),
    "UPSTREAM_TIMEOUT": (504, "upstream_timeout", "the instance did not answer in time"),
    "BAD_RESPONSE": (502, "bad_upstream_response", "the instance sent an invalid response"),
    "HTTP_5XX": (502, "upstream_error", "the instance failed"),
    "MISDIRECTED": (503, "no_owner", "no instance would serve this request; retry shortly"),
}
