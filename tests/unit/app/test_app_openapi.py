"""The OpenAPI document is built from the routes' own declarations and covers every route."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app import openapi
from stateline.app.apidocs import render
from stateline.app.factory import create_app
from stateline.app.routing import PathRoute
from stateline.settings import Settings


def _app_routes() -> list[tuple[str, str]]:
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"), "spec-test")
    found = []
    for route in app.routes:
        plain = route.routes if isinstance(route, PathRoute) else [route]
        for r in plain:
            assert isinstance(r, Route), f"{r!r}: only HTTP routes are expected in the app"
            found += [(r.path, m) for m in r.methods or () if m != "HEAD"]
    return found


def _shard_routes() -> list[tuple[str, str]]:
    from stateline.shards.api import routes

    return [(r.path, m) for r in routes for m in r.methods or () if m != "HEAD"]


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    """The document the app publishes (and serves at /api/openapi.json)."""
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"), "spec-test")
    return app.state.openapi


def test_every_route_of_the_app_is_in_the_document(doc: dict[str, Any]) -> None:
    routes = _app_routes()
    assert len(routes) >= 20
    for path, method in routes:
        assert method.lower() in doc["paths"].get(path, {}), f"{method} {path} is missing"
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    assert documented == set(routes) | set(_shard_routes())


def test_every_shard_route_is_in_the_document(doc: dict[str, Any]) -> None:
    """The document describes the API through the gateway: the rooms shards' routes too."""
    routes = _shard_routes()
    assert len(routes) == 5
    for path, method in routes:
        assert path.startswith("/api/rooms/{room_id}")
        op = doc["paths"].get(path, {}).get(method.lower())
        assert op is not None, f"{method} {path} is missing"
        assert op["tags"] == ["rooms"]
        misdirected = op["responses"]["421"]
        assert "misdirected" in misdirected["description"]
        assert "X-Stateline-Owner" in misdirected["headers"]
        assert "Retry-After" in op["responses"]["503"]["headers"]
        assert "room_unavailable" in op["responses"]["503"]["description"]


def test_room_coordinates_are_bounded_by_the_services_constant(doc: dict[str, Any]) -> None:
    from stateline.shards.rooms import COORD_LIMIT

    body = doc["paths"]["/api/rooms/{room_id}/players/{player_id}/position"]["put"][
        "requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["x"] == {"type": "number", "minimum": -COORD_LIMIT,
                                       "maximum": COORD_LIMIT}
    assert "out_of_bounds" in doc["paths"]["/api/rooms/{room_id}/players"]["post"][
        "responses"]["400"]["description"]


def test_a_route_without_a_spec_is_an_error_not_a_gap() -> None:
    async def undeclared(request: Request) -> Response:
        return Response()

    with pytest.raises(openapi.MissingSpec, match="GET /api/new"):
        openapi.build([Route("/api/new", undeclared, methods=["GET"])])


def test_every_operation_has_an_id_a_summary_responses_and_the_error_shape(
        doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    ids = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            assert op["summary"]
            for status, reply in op["responses"].items():
                if int(status) >= 400 and path != "/_stateline/health":
                    schema = reply["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == set(_path_names(path)), (method, path)
    assert len(ids) == len(set(ids))
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def test_links_name_real_operations_and_their_parameters(doc: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for ops in doc["paths"].values() for op in ops.values()}
    links = [link for op in by_id.values() for reply in op["responses"].values()
             for link in reply.get("links", {}).values()]
    assert len(links) >= 5
    for link in links:
        target = by_id[link["operationId"]]
        names = {p["name"] for p in target.get("parameters", [])}
        assert set(link["parameters"]) <= names


def test_bounds_in_the_document_are_the_validators_constants(doc: dict[str, Any]) -> None:
    from stateline.app.services.carts import MAX_QTY
    from stateline.app.services.users import MAX_LIMIT

    qty = doc["paths"]["/api/carts/{user_id}/items"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]["qty"]
    assert qty["maximum"] == MAX_QTY
    limit = next(p for p in doc["paths"]["/api/users"]["get"]["parameters"]
                 if p["name"] == "limit")
    assert limit["schema"]["maximum"] == MAX_LIMIT


def test_the_docs_page_lists_every_operation_and_escapes_text(doc: dict[str, Any]) -> None:
    page = render(doc)
    for path in doc["paths"]:
        assert f"<code>{path}</code>" in page
    hostile = {"openapi": "3.1.0", "info": {"title": "<script>x</script>"}, "paths": {}}
    assert "<script>" not in render(hostile)
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere


def test_an_amendment_changes_every_operation_in_one_place() -> None:
    from stateline.app.spec import Operation, Param

    def with_trace(path: str, method: str, op: Operation) -> Operation:
        if method in ("POST", "PUT", "DELETE"):
            return op.with_params(Param("X-Trace", "header", {"type": "string"}))
        return op

    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"), "spec-test")
    doc = openapi.build(app.routes, [with_trace])
    post = doc["paths"]["/api/users"]["post"]["parameters"]
    assert {"name": "X-Trace", "in": "header", "schema": {"type": "string"},
            "required": False} in post
    assert "parameters" not in doc["paths"]["/api/counter"]["get"]
