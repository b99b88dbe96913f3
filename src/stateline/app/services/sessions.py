"""Sessions: the seed's session cache, in Redis with a TTL instead of in a process.

- ``POST /api/sessions {"user"}`` → 201 ``{"session_id"}`` and the cookie
  ``stateline_session`` (HttpOnly, SameSite=Lax, a one-day Max-Age; Secure when
  the request came over HTTPS);
- ``GET /api/sessions/me`` with that cookie → ``{"user"}`` from any instance;
  401 without a cookie or for an expired or unknown session;
- ``DELETE /api/sessions/me`` → 204, the session deleted and the cookie cleared.

The session id is 256 random bits (``secrets.token_urlsafe(32)``); the record
is ``SET stateline:session:{<id>} ... EX 86400``, so Redis forgets idle
sessions by itself and any instance can read any session.
"""

from __future__ import annotations

import re
import secrets

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.bodies import read_json_object
from stateline.app.context import stores
from stateline.app.errors import ApiError
from stateline.app.idempotency_http import idempotent
from stateline.app.responses import json_response
from stateline.app.spec import JSON, Body, Operation, Param, Reply, api, json_object
from stateline.app.validate import json_text, text_schema

COOKIE = "stateline_session"
SESSION_TTL_S = 24 * 60 * 60
MAX_USER = 200
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")


def session_key(session_id: str) -> str:
    return f"stateline:session:{{{session_id}}}"


def _secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.lower() == "https"


def _session_id(request: Request) -> str:
    session_id = request.cookies.get(COOKIE)
    if session_id is None:
        raise ApiError(401, "no_session", f"no {COOKIE} cookie; POST /api/sessions first")
    if not _SESSION_ID.fullmatch(session_id):
        raise ApiError(401, "unknown_session", "the session cookie is not a stateline session")
    return session_id


_COOKIE = Param(COOKIE, "cookie", {"type": "string"},
                "the session id from POST /api/sessions")
_SET_COOKIE = {"Set-Cookie": {"schema": {"type": "string"}, "description": f"{COOKIE}=..."}}


@api(Operation(
    "Start a session: a random id, kept in Redis for a day, sent as a cookie", tag="sessions",
    body=Body({JSON: json_object({"user": text_schema(MAX_USER)}, ("user",))}),
    replies=(Reply(201, "The new session", json_object(
        {"session_id": {"type": "string"}}, ("session_id",)), headers=_SET_COOKIE, links={
            name: {"operationId": f"sessions.{op}",
                   "parameters": {COOKIE: "$response.body#/session_id"}}
            for name, op in (("Me", "me"), ("Logout", "logout"))
        }),),
))
@idempotent("POST /api/sessions")
async def create_session(request: Request) -> Response:
    data = await read_json_object(request)
    user = json_text(data, "user", MAX_USER)
    session_id = secrets.token_urlsafe(32)
    record = orjson.dumps({"user": user})
    await stores(request).redis.set(session_key(session_id), record, ex=SESSION_TTL_S)
    response = json_response({"session_id": session_id}, status=201)
    response.set_cookie(COOKIE, session_id, max_age=SESSION_TTL_S, path="/",
                        httponly=True, samesite="lax", secure=_secure(request))
    return response


@api(Operation(
    "Who this session's user is, from any instance", tag="sessions", params=(_COOKIE,),
    replies=(Reply(200, "The session's user", json_object({"user": {"type": "string"}},
                                                         ("user",))),),
    errors={401: "no_session, unknown_session"},
))
async def me(request: Request) -> Response:
    record = await stores(request).redis.get(session_key(_session_id(request)))
    if record is None:
        raise ApiError(401, "unknown_session", "the session expired or never existed")
    return json_response({"user": orjson.loads(record)["user"]})


@api(Operation(
    "End the session and clear the cookie", tag="sessions", params=(_COOKIE,),
    replies=(Reply(204, "Ended", headers=_SET_COOKIE),),
    errors={401: "no_session, unknown_session"},
))
@idempotent("DELETE /api/sessions/me", tag=_session_id)  # scoped per session
async def logout(request: Request) -> Response:
    await stores(request).redis.delete(session_key(_session_id(request)))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


routes = [
    Route("/api/sessions", create_session, methods=["POST"]),
    Route("/api/sessions/me", me, methods=["GET"]),
    Route("/api/sessions/me", logout, methods=["DELETE"]),
]
