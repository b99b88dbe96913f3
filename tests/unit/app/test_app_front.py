"""The front layer answers as Starlette's ServerErrorMiddleware + ExceptionMiddleware would.

Driven as plain ASGI calls (no server): what is sent, and what is raised to the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from stateline.app.errors import EXCEPTION_HANDLERS, ApiError
from stateline.app.front import FrontedStarlette
from stateline.app.routing import IndexedRouter


async def _bug(request: Request) -> Response:
    raise RuntimeError("a genuine bug")


async def _refused(request: Request) -> Response:
    raise ApiError(409, "conflict_here", "no")


async def _half(request: Request) -> Response:
    class Breaks(PlainTextResponse):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise RuntimeError("broke after the start")
    return Breaks("x")


def _app() -> FrontedStarlette:
    app = FrontedStarlette(exception_handlers=EXCEPTION_HANDLERS, instance_id="front-1")
    app.router = IndexedRouter([Route("/bug", _bug), Route("/refused", _refused),
                                Route("/half", _half)], redirect_slashes=False)
    return app


def _call(path: str) -> tuple[list[dict[str, Any]], BaseException | None]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"x")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        asyncio.run(_app()(scope, receive, send))
    except BaseException as exc:  # what the server would see and log
        return sent, exc
    return sent, None


def test_an_unhandled_error_gets_one_json_500_and_still_reaches_the_server() -> None:
    sent, raised = _call("/bug")
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [500]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b'"internal_error"' in body
    assert isinstance(raised, RuntimeError) and str(raised) == "a genuine bug"


def test_a_handled_error_is_answered_with_the_instance_header_and_not_raised() -> None:
    sent, raised = _call("/refused")
    assert raised is None
    start = sent[0]
    assert start["status"] == 409
    assert (b"x-instance-id", b"front-1") in start["headers"]


def test_an_error_after_the_response_started_sends_nothing_more() -> None:
    sent, raised = _call("/half")
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200]
    assert isinstance(raised, RuntimeError)


@pytest.mark.parametrize("path", ["/nowhere"])
def test_an_unknown_path_is_the_json_404(path: str) -> None:
    sent, raised = _call(path)
    assert raised is None and sent[0]["status"] == 404
