"""Users: the seed's database example, ``SELECT * FROM users``, in SQL.

- ``POST /api/users {"name", "email"}`` → 201 ``{"id", "name", "email", "created_at"}``;
  a taken email → 409, an invalid email or field → 422;
- ``GET /api/users?limit=&after=`` → ``{"items": [...], "next": cursor | null}``;
- ``GET /api/users/{id}`` → the user, or 404.

Pagination is by keyset (``WHERE id > after ORDER BY id LIMIT n``), not by
offset: every page costs the same however deep it is, and a user added while a
client pages does not shift the pages. The cursor is the last id as a string;
clients should treat it as opaque. Emails are stored trimmed and lower-cased,
so ``Ann@Example.com`` and ``ann@example.com`` are one address.

Email syntax is deliberately strict and ASCII-only (see :data:`_EMAIL`): an
invisible character (``\u200b``) or a control character must not make a
second account for an address that is already taken, nor smuggle markup into
stored data. Internationalised domains are accepted in their A-label form
(``xn--...``); a quoted local part (``"a b"@example.com``) is refused.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.bodies import read_json_object
from stateline.app.context import stores
from stateline.app.errors import ApiError
from stateline.app.idempotency_http import idempotent
from stateline.app.responses import json_response
from stateline.app.spec import JSON, Body, Operation, Param, Reply, api, json_object
from stateline.app.validate import int_schema, json_text, query_int, query_params, text_schema
from stateline.stores import sql

MAX_NAME = 200
MAX_EMAIL = 254
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
#: An RFC 5322 dot-atom local part (letters, digits and ``!#$%&'*+/=?^_`{|}~-``,
#: dots only between them, at most 64 characters), ``@``, and a domain of at least
#: two labels of letters, digits and inner hyphens (1..63 characters each). ASCII
#: only; syntax is all we check: whether the mailbox exists, only a mail can tell.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"(?=[^@]{{1,64}}@){_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+")
_ID = re.compile(r"[0-9]{1,18}")


def parse_email(data: dict[str, Any]) -> str:
    email = json_text(data, "email", MAX_EMAIL).lower()
    if not _EMAIL.fullmatch(email):
        raise ApiError(422, "invalid_field", "email is not a valid address")
    return email


def parse_user_id(raw: str | None, name: str) -> int:
    """A user id (or cursor): a positive integer of at most 18 digits."""
    if raw is None or not _ID.fullmatch(raw):
        raise ApiError(400, "invalid_parameter", f"{name} must be a user id")
    return int(raw)


def as_json(user: sql.UserRow) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "created_at": user.created_at.isoformat().replace("+00:00", "Z"),
    }


_USER = json_object({
    "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
}, ("id", "name", "email", "created_at"))
_ID_SCHEMA = {"type": "string", "pattern": f"^{_ID.pattern}$"}
_LOCATION = {"Location": {"schema": {"type": "string"}, "description": "the new user's URL"}}


@api(Operation(
    "Create a user (emails are unique, trimmed and lower-cased)", tag="users",
    body=Body({JSON: json_object({"name": text_schema(MAX_NAME),
                                  "email": {**text_schema(MAX_EMAIL), "format": "email"}},
                                 ("name", "email"))}),
    replies=(Reply(201, "The new user", _USER, headers=_LOCATION, links={
        "GetUser": {"operationId": "users.get_user", "parameters": {"id": "$response.body#/id"}},
    }),),
    errors={409: "email_taken"},
))
@idempotent("POST /api/users")
async def create_user(request: Request) -> Response:
    data = await read_json_object(request)
    name = json_text(data, "name", MAX_NAME)
    email = parse_email(data)
    try:
        user = await sql.insert_user(stores(request).sql, name, email)
    except sql.DuplicateError:
        raise ApiError(409, "email_taken", f"a user with email {email} exists") from None
    return json_response(as_json(user), status=201, headers={"location": f"/api/users/{user.id}"})


@api(Operation(
    "List users by id, a page at a time (keyset pagination)", tag="users",
    params=(Param("limit", "query", int_schema(1, MAX_LIMIT), f"default {DEFAULT_LIMIT}"),
            Param("after", "query", _ID_SCHEMA, "the previous page's next cursor")),
    replies=(Reply(200, "A page of users", json_object({
        "items": {"type": "array", "items": _USER},
        "next": {"type": ["string", "null"]}}, ("items", "next"))),),
    errors={400: "invalid_parameter"},
))
async def list_users(request: Request) -> Response:
    params = query_params(request.scope["query_string"])
    limit = query_int(params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    raw_after = params.get("after")
    after = parse_user_id(raw_after, "after") if raw_after else None
    rows = await sql.list_users(stores(request).sql, after, limit + 1)
    page = rows[:limit]
    next_cursor = str(page[-1].id) if len(rows) > limit else None
    return json_response({"items": [as_json(u) for u in page], "next": next_cursor})


@api(Operation(
    "Read one user", tag="users", params=(Param("id", "path", _ID_SCHEMA),),
    replies=(Reply(200, "The user", _USER),),
    errors={404: "not_found"},
))
async def get_user(request: Request) -> Response:
    raw = request.path_params["id"]
    if not _ID.fullmatch(raw):
        raise ApiError(404, "not_found", f"no user with id {raw[:40]!r}")
    user = await sql.get_user(stores(request).sql, int(raw))
    if user is None:
        raise ApiError(404, "not_found", f"no user with id {raw}")
    return json_response(as_json(user))


routes = [
    Route("/api/users", create_user, methods=["POST"]),
    Route("/api/users", list_users, methods=["GET"]),
    Route("/api/users/{id}", get_user, methods=["GET"]),
]
