"""The one error shape every app endpoint answers with.

Handlers raise :class:`ApiError`; the app turns it into
``{"error": {"code": ..., "message": ...}}`` with its status. A store that
stops answering mid-request gives 503 ``store_unavailable``. Anything else that
escapes a handler is a bug in stateline, not bad input, so it becomes a JSON
500 (and a logged traceback) rather than a hung or half-written response.

A client that hangs up before its body arrived is neither: nobody is left to
answer, so it is one line in the log at info level, not an error.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from stateline.app.responses import json_response
from stateline.stores.blobs import BlobStoreUnavailable

log = logging.getLogger("stateline.app")

#: Seconds a client is asked to wait after a store failure (a failover takes a few).
STORE_RETRY_AFTER_S = 2

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    431: "headers_too_large",
}


class ApiError(Exception):
    """A request the app refuses, with the status and code the client sees."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable with all its fields: it is raised in decoder processes (workers.py).
        return (ApiError, (self.status, self.code, self.message, self.headers))


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status=status)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    response = error_response(exc.status, exc.code, exc.message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unknown path, wrong method) in our JSON shape."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    response = error_response(exc.status_code, code, str(exc.detail))
    if headers:
        response.headers.update(headers)
    return response


async def store_error_handler(request: Request, exc: Exception) -> Response:
    """A store that cannot serve is the server's trouble, not the client's: 503.

    This is the one place every Redis and SQL failure of every service lands:
    connection refused, timeouts, ``CLUSTERDOWN``, ``MISCONF``, ``READONLY``, a
    full disk, any other error reply. The client gets ``Retry-After`` and no
    word of the store's own text (it names hosts, ports and configuration);
    the log gets all of it. A handler catches a store error itself only for
    the one reply that *is* about the client's input (a cart line overflowing).
    """
    log.warning("store error on %s %s: %r", request.method, request.url.path, exc)
    response = error_response(503, "store_unavailable", "a store did not answer; retry shortly")
    response.headers["retry-after"] = str(STORE_RETRY_AFTER_S)
    return response


async def client_disconnect_handler(request: Request, exc: Exception) -> Response:
    """The client went away mid-body: log one line; the answer goes nowhere.

    Handled here, in the exception middleware, so it never reaches the 500
    handler, which logs a traceback and re-raises to the server (granian would
    log a second one).
    """
    log.info("client disconnected before sending its body: %s %s",
             request.method, request.url.path)
    return error_response(400, "client_disconnected", "the client closed the connection")


def _named(request: Request, response: Response) -> Response:
    # The 500 handler runs outside the middleware that names the instance: name it here.
    ctx = getattr(request.app.state, "ctx", None)
    if ctx is not None:
        response.headers["x-instance-id"] = ctx.instance_id
    return response


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _named(request, error_response(
        500, "internal_error", "an unexpected error happened; it is logged"))


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    ApiError: api_error_handler,
    HTTPException: http_error_handler,
    ClientDisconnect: client_disconnect_handler,
    RedisError: store_error_handler,
    BlobStoreUnavailable: store_error_handler,
    sa_exc.OperationalError: store_error_handler,
    sa_exc.InterfaceError: store_error_handler,
    sa_exc.TimeoutError: store_error_handler,
    sa_exc.DBAPIError: store_error_handler,
    sa_exc.DisconnectionError: store_error_handler,
    Exception: unexpected_error_handler,
}
