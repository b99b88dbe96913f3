"""What each endpoint accepts and answers, declared once, next to its handler.

A handler carries an :class:`Operation` (``@api(Operation(...))``): its
parameters, body, replies and error statuses, as JSON Schema. The OpenAPI
document (``openapi.py``) is built from these declarations and from the
app's routes, never written by hand, so a route cannot be published without
one (a unit test walks every route), and the bounds in a schema are the very
constants the validators in ``validate.py`` and the services enforce.

Every operation also gets the answers any endpoint can give, so a service
declares only its own: 503 (``not_ready``, ``store_unavailable``) everywhere;
400/413/415/422 for a JSON body. Other layers (an idempotency key, say) can
add parameters to many operations at once with :func:`Operation.with_params`.

A decorator that changes what a handler accepts or answers (``@idempotent``)
documents that itself: it marks the handler with :func:`amend`, and the
builder applies the mark's function to the handler's operation. The
decorator is then the one source of truth: a handler it wraps is documented
with its header, and no other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

H = TypeVar("H", bound=Callable[..., Any])
Schema = dict[str, Any]

ATTRIBUTE = "__stateline_api__"
AMENDMENTS = "__stateline_api_amendments__"

#: The one error shape (errors.py): ``{"error": {"code", "message"}}``.
ERROR_SCHEMA: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    }},
}
RETRY_AFTER: Schema = {"schema": {"type": "string", "pattern": "^[0-9]+$"},
                       "description": "seconds to wait before retrying"}


@dataclass(frozen=True)
class Param:
    """One parameter: in the path, the query, a header or a cookie."""

    name: str
    where: Literal["path", "query", "header", "cookie"]
    schema: Schema
    description: str = ""
    required: bool = False

    def as_openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "in": self.where, "schema": self.schema,
                               "required": self.required or self.where == "path"}
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class Body:
    """A request body: media type → schema (``JSON`` for a JSON object)."""

    content: Mapping[str, Schema]
    description: str = ""
    required: bool = True

    @property
    def is_json(self) -> bool:
        return "application/json" in self.content


@dataclass(frozen=True)
class Reply:
    """One answer: its status, what it holds, its headers, links to follow-up calls."""

    status: int
    description: str
    schema: Schema | None = None
    media: str = "application/json"
    headers: Mapping[str, Schema] = field(default_factory=dict)
    #: OpenAPI links: name → {"operationId": ..., "parameters": {...}}.
    links: Mapping[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """Everything the OpenAPI document says about one (path, method)."""

    summary: str
    replies: tuple[Reply, ...]
    params: tuple[Param, ...] = ()
    body: Body | None = None
    #: Error statuses (beyond the common ones) → the codes they carry.
    errors: Mapping[int, str] = field(default_factory=dict)
    tag: str = ""
    description: str = ""
    #: Whether the handler reaches a store (adds 503 ``store_unavailable``).
    stores: bool = True
    #: Headers of error replies, by status (``Retry-After`` of a 409, say).
    error_headers: Mapping[int, Mapping[str, Schema]] = field(default_factory=dict)

    def with_params(self, *params: Param) -> Operation:
        return replace(self, params=(*self.params, *params))

    def with_errors(self, errors: Mapping[int, str],
                    headers: Mapping[int, Mapping[str, Schema]] | None = None) -> Operation:
        """This operation with more error codes (merged with those of the same status)."""
        merged = dict(self.errors)
        for status, codes in errors.items():
            have = [c.strip() for c in merged.get(status, "").split(",") if c.strip()]
            have += [c.strip() for c in codes.split(",") if c.strip() and c.strip() not in have]
            merged[status] = ", ".join(have)
        more = {s: {**self.error_headers.get(s, {}), **h} for s, h in (headers or {}).items()}
        return replace(self, errors=merged, error_headers={**self.error_headers, **more})

    def with_reply_headers(self, headers: Mapping[str, Schema]) -> Operation:
        """This operation with ``headers`` on each of its declared (non-error) replies."""
        return replace(self, replies=tuple(
            replace(r, headers={**r.headers, **headers}) if r.status < 400 else r
            for r in self.replies))


def api(operation: Operation) -> Callable[[H], H]:
    """Attach ``operation`` to a handler; the OpenAPI builder reads it from the route."""

    def mark(handler: H) -> H:
        setattr(handler, ATTRIBUTE, operation)
        return handler

    return mark


def operation_of(handler: Callable[..., Any]) -> Operation | None:
    found = getattr(handler, ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


def amend(handler: Callable[..., Any], change: Callable[[Operation], Operation]) -> None:
    """Mark ``handler``: its documented operation passes through ``change``.

    For a decorator whose wrapper adds a header or an error to the handler's
    contract. The marks are a tuple, replaced rather than extended, so a
    ``functools.wraps`` copy of the wrapped function's ``__dict__`` is never shared.
    """
    setattr(handler, AMENDMENTS, (*amendments_of(handler), change))


def amendments_of(handler: Callable[..., Any]) -> tuple[Callable[[Operation], Operation], ...]:
    found = getattr(handler, AMENDMENTS, ())
    return found if isinstance(found, tuple) else ()


def json_object(properties: Mapping[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """A JSON object schema (extra properties are ignored by the handlers, so allowed)."""
    return {"type": "object", "properties": dict(properties), "required": list(required)}


def json_reply(status: int, description: str, schema: Schema, **kw: Any) -> Reply:
    return Reply(status, description, schema, **kw)


JSON = "application/json"
