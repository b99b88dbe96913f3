"""Merging the services' routes: one route per path, static paths before parameters."""

from __future__ import annotations

import asyncio

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount, Route

from stateline.app.routing import PathRoute, merge_routes


async def a(request: Request) -> Response:
    return Response("a")


async def b(request: Request) -> Response:
    return Response("b")


def _scope(method: str, path: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": ""}


ROUTES = [
    Route("/api/users", b, methods=["POST"]),
    Route("/api/images/resize", a, methods=["POST"]),
    Route("/api/users", a, methods=["GET"]),
    Route("/api/images/{id}", b, methods=["GET"]),
]


def test_routes_of_one_path_become_one_route_in_first_seen_order() -> None:
    merged = merge_routes(ROUTES)
    assert [type(r) for r in merged] == [PathRoute, PathRoute, PathRoute]
    assert [r.path for r in merged] == ["/api/users", "/api/images/resize", "/api/images/{id}"]  # type: ignore[attr-defined]


def test_each_method_reaches_the_handler_that_declared_it() -> None:
    users = merge_routes(ROUTES)[0]
    for method, endpoint in (("GET", a), ("HEAD", a), ("POST", b)):
        match, child = users.matches(_scope(method, "/api/users"))
        assert (match, child["endpoint"]) == (Match.FULL, endpoint)


def test_a_missing_method_is_a_405_allowing_every_method_of_the_path() -> None:
    users = merge_routes(ROUTES)[0]
    assert users.matches(_scope("OPTIONS", "/api/users"))[0] is Match.PARTIAL
    with pytest.raises(HTTPException) as info:
        asyncio.run(users.handle(_scope("OPTIONS", "/api/users"), None, None))  # type: ignore[arg-type]
    assert info.value.status_code == 405
    assert info.value.headers == {"Allow": "GET, HEAD, POST"}


def test_a_parameter_never_matches_a_path_a_static_route_declares() -> None:
    _, resize, by_id = merge_routes(ROUTES)
    assert by_id.matches(_scope("GET", "/api/images/resize"))[0] is Match.NONE
    assert resize.matches(_scope("GET", "/api/images/resize"))[0] is Match.PARTIAL
    assert by_id.matches(_scope("GET", "/api/images/abc"))[0] is Match.FULL


def test_other_routes_pass_through_in_place() -> None:
    mount = Mount("/static", routes=[])
    merged = merge_routes([ROUTES[0], mount, ROUTES[2]])
    assert merged[1] is mount and len(merged) == 2
