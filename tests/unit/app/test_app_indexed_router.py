"""IndexedRouter finds the same route as Starlette's full scan, for every path and method.

The index only skips routes whose literal start cannot fit the path; these tests
compare its answer with the plain first-match scan over the app's real routes, on
every declared path (parameters filled in), near misses, and arbitrary paths.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Match

from stateline.app.factory import _routes
from stateline.app.routing import IndexedRouter, path_key, route_key

ROUTES = _routes()
ROUTER = IndexedRouter(ROUTES, redirect_slashes=False)
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def _scope(method: str, path: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": ""}


def _first(routes: list[BaseRoute], method: str, path: str) -> tuple[int, str] | None:
    """(index in ROUTES, FULL/PARTIAL) of the route the router's loop would pick."""
    partial = None
    for route in routes:
        match, _ = route.matches(_scope(method, path))
        if match is Match.FULL:
            return ROUTES.index(route), "full"
        if match is Match.PARTIAL and partial is None:
            partial = ROUTES.index(route), "partial"
    return partial


def _same(method: str, path: str) -> None:
    assert _first(ROUTER.candidates(path), method, path) == _first(ROUTES, method, path), \
        (method, path)


def _declared_paths() -> list[str]:
    paths = []
    for route in ROUTES:
        path = getattr(route, "path", None)
        if path:
            paths.append(re.sub(r"\{[^}]+\}", "x1", path))
    return paths


def test_every_declared_path_and_its_near_misses_route_as_before() -> None:
    for path in _declared_paths():
        for probe in (path, path + "/", path + "/extra", path[:-1], path.upper(),
                      path.replace("/api/", "/api//"), "/" + path.lstrip("/") + "x"):
            for method in METHODS:
                _same(method, probe)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["api", "users", "counter", "carts", "players", "x1",
                                 "position", "items", "_stateline", "health", "", "calc",
                                 "add", "images", "currency", "convert", "openapi.json"]),
                max_size=5),
       st.sampled_from(METHODS))
def test_arbitrary_paths_route_as_before(segments: list[str], method: str) -> None:
    _same(method, "/" + "/".join(segments))


def test_keys_of_routes_and_paths_agree() -> None:
    assert path_key("/api/players/p1/position") == "/api/players"
    assert path_key("/api") is None
    keyed = {route_key(r) for r in ROUTES}
    assert "/api/counter" in keyed and "/api/players" in keyed
