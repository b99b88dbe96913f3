"""The OpenAPI 3.1 document of the app, built from its routes and their declarations.

``build(routes)`` walks the app's routes and reads the :class:`~stateline.app.spec.Operation`
each handler carries (``spec.py``). A route without one is an error, not a gap
in the document: :class:`MissingSpec` names it, and the unit tests build the
document from the real app, so a new route without a spec fails them.

``GET /api/openapi.json`` serves the document and ``GET /api/docs`` a page for
people (``apidocs.py``); :func:`publish` builds both once, when the app is
created, so a route without a spec stops the instance at start-up, loudly.

A layer that touches many operations at once (an idempotency key on every
state-changing one, say) passes an *amendment* to :func:`build`: a function
``(path, method, operation) -> operation`` applied to each before it is
written, so its parameter or header is declared in one place too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from stateline import __version__ as VERSION
from stateline.app.responses import json_response
from stateline.app.routing import PathRoute
from stateline.app.spec import (
    ERROR_SCHEMA,
    RETRY_AFTER,
    Operation,
    Reply,
    amendments_of,
    api,
    operation_of,
)

OPENAPI_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_HTTP_WORDS = {
    400: "Bad request", 401: "Not authenticated", 404: "Not found", 409: "Conflict",
    413: "Too large", 415: "Unsupported media type",
    421: "Misdirected: the gateway retries it on the owner, so a client should not see it",
    422: "Invalid field",
    429: "Too many requests", 503: "Unavailable: retry after the given seconds",
}


Amendment = Callable[[str, str, Operation], Operation]


class MissingSpec(LookupError):
    """A route whose handler declares no :class:`Operation`."""


def _http_routes(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, str, Route]]:
    for route in routes:
        plain = route.routes if isinstance(route, PathRoute) else [route]
        for r in plain:
            if not isinstance(r, Route):
                continue
            for method in sorted(r.methods or ()):
                if method != "HEAD":  # Starlette adds HEAD to GET; it answers the same, bodiless
                    yield r.path, method, r


def _error_statuses(op: Operation) -> dict[int, str]:
    """The operation's error statuses with their codes, common ones added."""
    errors: dict[int, list[str]] = {s: [c.strip() for c in codes.split(",") if c.strip()]
                                    for s, codes in op.errors.items()}

    def add(status: int, *codes: str) -> None:
        have = errors.setdefault(status, [])
        have.extend(c for c in codes if c not in have)

    if op.body is not None:
        add(400, "bad_content_length", "client_disconnected")
        add(413, "payload_too_large")
        if op.body.is_json:
            add(400, "invalid_json")
            add(415, "unsupported_media_type")
            add(422, "invalid_body", "invalid_number", "invalid_field")
    if op.stores:
        add(503, "not_ready", "store_unavailable")
    return {s: ", ".join(c) for s, c in sorted(errors.items())}


def _reply(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.schema is not None:
        out["content"] = {reply.media: {"schema": reply.schema}}
    if reply.headers:
        out["headers"] = {name: dict(h) for name, h in reply.headers.items()}
    if reply.links:
        out["links"] = {name: dict(link) for name, link in reply.links.items()}
    return out


def operation_id(route: Route, method: str) -> str:
    module = route.endpoint.__module__.rsplit(".", 1)[-1]
    return f"{module}.{route.endpoint.__name__}"


def _operation(path: str, method: str, route: Route,
               amendments: Sequence[Amendment]) -> dict[str, Any]:
    op = operation_of(route.endpoint)
    if op is None:
        raise MissingSpec(f"{method} {path} ({route.endpoint.__qualname__}) declares no "
                          "@api(Operation(...)); every route must, for the OpenAPI document")
    for change in amendments_of(route.endpoint):  # a decorator's own declaration
        op = change(op)
    for amend in amendments:
        op = amend(path, method, op)
    out: dict[str, Any] = {"operationId": operation_id(route, method), "summary": op.summary}
    if op.description:
        out["description"] = op.description
    if op.tag:
        out["tags"] = [op.tag]
    if op.params:
        out["parameters"] = [p.as_openapi() for p in op.params]
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body.required,
            "content": {media: {"schema": schema} for media, schema in op.body.content.items()},
        }
        if op.body.description:
            out["requestBody"]["description"] = op.body.description
    responses: dict[str, Any] = {}
    for r in op.replies:  # one status may come in several media types: merge them
        entry = _reply(r)
        have = responses.setdefault(str(r.status), entry)
        if have is not entry:
            have.setdefault("content", {}).update(entry.get("content", {}))
    for status, codes in _error_statuses(op).items():
        if str(status) in responses:
            continue
        entry: dict[str, Any] = {
            "description": f"{_HTTP_WORDS.get(status, 'Error')} (codes: {codes})",
            "content": {"application/json": {"schema": _ERROR_REF}},
        }
        if status in (429, 503):
            entry["headers"] = {"Retry-After": dict(RETRY_AFTER)}
        for name, header in op.error_headers.get(status, {}).items():
            entry.setdefault("headers", {})[name] = dict(header)
        responses[str(status)] = entry
    out["responses"] = responses
    return out


def build(routes: Iterable[BaseRoute], amendments: Sequence[Amendment] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes``; :class:`MissingSpec` if one lacks a spec."""
    paths: dict[str, dict[str, Any]] = {}
    for path, method, route in _http_routes(routes):
        paths.setdefault(path, {})[method.lower()] = _operation(path, method, route, amendments)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "stateline app API",
            "version": VERSION,
            "description": "The API as seen through the gateway: the stateless app tier's "
                           "endpoints, served by every instance, and the rooms "
                           "(``/api/rooms/...``), served by the shard that owns each room. "
                           "Every error is "
                           '`{"error": {"code", "message"}}`.',
        },
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }


def routes_behind_the_gateway() -> list[BaseRoute]:
    """The routes the gateway sends to other pools than the app's: the rooms shards.

    The document describes the API as a client sees it through the gateway,
    so the shards' routes (declared next to them, ``shards/api.py``) are in it
    too. Importing them starts nothing: the shard's service is bound and
    started only by ``stateline shard``.
    """
    from stateline.shards.api import routes as shard_routes

    return list(shard_routes)


def publish(app: Starlette, amendments: Sequence[Amendment] = (),
            others: Iterable[BaseRoute] | None = None) -> None:
    """Build the document and the docs page for ``app`` (at creation, never per request).

    ``others`` are the routes served behind the same gateway by other pools
    (:func:`routes_behind_the_gateway` unless given).
    """
    from stateline.app.apidocs import render

    more = routes_behind_the_gateway() if others is None else list(others)
    doc = build([*app.routes, *more], amendments)
    app.state.openapi = doc
    app.state.api_docs_html = render(doc)


_DOC_OP = dict(stores=False, tag="meta")


@api(Operation("This document: the OpenAPI 3.1 description of the app's API",
               (Reply(200, "The OpenAPI document", {"type": "object"}),), **_DOC_OP))
async def openapi_json(request: Request) -> Response:
    return json_response(request.app.state.openapi)


@api(Operation("The API documentation as an HTML page (no script, no outside resource)",
               (Reply(200, "An HTML page", {"type": "string"}, media="text/html"),),
               **_DOC_OP))
async def docs_page(request: Request) -> Response:
    return HTMLResponse(request.app.state.api_docs_html, headers={
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"})


routes = [
    Route(OPENAPI_PATH, openapi_json, methods=["GET"]),
    Route(DOCS_PATH, docs_page, methods=["GET"]),
]
