"""``@idempotent(...)``: the Idempotency-Key protocol around a state-changing handler.

One decorator for every state-changing endpoint, so no handler repeats the
protocol. Without the header a request runs exactly as before. With it:

1. the key is checked (400 ``invalid_idempotency_key``), the body read (within
   the endpoint's limit) and fingerprinted;
2. the key is claimed in Redis, atomically (``idempotency_store.CLAIM``): a
   repeat is answered from the record -- replayed (``Idempotent-Replayed:
   true``), 409 ``idempotency_in_flight`` or 422 ``idempotency_key_reused``
   (see ``idempotency.decide``);
3. the handler runs. A handler whose write is one Redis command calls
   :func:`redis_write`, which writes and records in one script; otherwise the
   decorator records the response after the handler returned. A 5xx or an
   exception releases the claim instead, so the client's retry runs.

The decorator also documents itself (:func:`document`, attached with
``spec.amend``): the OpenAPI document of every handler it wraps gets the
optional header, the ``Idempotent-Replayed`` reply header and the errors
above, and no other handler does.

Keys are scoped per endpoint and per partition (``tag``): the cart's user,
the player, the session; endpoints without a natural owner (users, sessions,
images, the counter) share one scope per endpoint.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from stateline.app import idempotency_store as store
from stateline.app.bodies import JSON_BODY_LIMIT, read_body
from stateline.app.context import context, stores
from stateline.app.errors import ApiError, error_response
from stateline.app.idempotency import (
    KEY_HEADER,
    KEY_PATTERN,
    MAX_KEY_CHARS,
    REPLAYED_HEADER,
    Decision,
    Outcome,
    decide,
    fingerprint,
    hash_tag,
    kept_headers,
    parse_key,
    record_key,
    recordable,
)
from stateline.app.spec import RETRY_AFTER, Operation, Param, amend

log = logging.getLogger("stateline.app")

Handler = Callable[[Request], Awaitable[Response]]
#: Where the claim travels from the decorator to :func:`redis_write`: the ASGI scope.
_SCOPE_KEY = "stateline.idempotency"
#: Stands for a command's result while a response template is built.
RESULT = "\x00stateline-result\x00"
_RESULT_JSON = orjson.dumps(RESULT)


@dataclass
class Claim:
    """This attempt's hold on one key; ``recorded`` once its outcome is stored."""

    key: str
    fingerprint: str
    owner: str
    ttl_ms: int
    recorded: bool = False


def _replay(outcome: Outcome) -> Response:
    response = Response(outcome.body, status_code=outcome.status)
    response.raw_headers = [
        *response.raw_headers,
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in outcome.headers),
        (REPLAYED_HEADER.encode(), b"true"),
    ]
    return response


def _body_replayer(body: bytes) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


#: The request header, as the document declares it: the very bounds :func:`parse_key` checks.
KEY_PARAM = Param("Idempotency-Key", "header", {
    "type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS + 2, "pattern": KEY_PATTERN,
}, description=f"Makes a retry safe: 1..{MAX_KEY_CHARS} visible ASCII characters but "
   '" and \\ (bare, or quoted as a structured-field string); a repeat with the same '
   "key and request gets the first outcome again")
REPLAYED = {"schema": {"type": "string", "enum": ["true"]},
            "description": "present when this is the recorded outcome of an earlier "
                           "request with the same Idempotency-Key"}
ERRORS = {400: "invalid_idempotency_key, bad_content_length, client_disconnected",
          409: "idempotency_in_flight", 413: "payload_too_large",
          422: "idempotency_key_reused"}


def document(op: Operation) -> Operation:
    """``op`` as an idempotent handler answers it: the header, the replay mark, the errors."""
    return (op.with_params(KEY_PARAM).with_reply_headers({"Idempotent-Replayed": REPLAYED})
            .with_errors(ERRORS, headers={409: {"Retry-After": RETRY_AFTER}}))


def idempotent(endpoint: str, tag: str | Callable[[Request], str] | None = None,
               body_limit: int = JSON_BODY_LIMIT) -> Callable[[Handler], Handler]:
    """Honour ``Idempotency-Key`` on ``endpoint`` (a name such as ``POST /api/users``).

    ``tag`` is the scope's partition: a constant, or a function of the request
    (it may raise ``ApiError`` for a bad path parameter). When it is the hash
    tag of the key a handler writes, :func:`redis_write` is atomic.
    """
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            values = request.headers.getlist(KEY_HEADER)
            if not values:
                return await handler(request)
            key = parse_key(values)
            partition = tag(request) if callable(tag) else (tag or endpoint)
            body = await read_body(request, body_limit)
            fp = fingerprint(request.method, request.url.path, request.url.query, body)
            settings = context(request).settings
            redis = stores(request).redis
            claim = Claim(record_key(endpoint, partition, key), fp, secrets.token_hex(8),
                          settings.idempotency_ttl_s * 1000)
            existing = await store.claim(redis, claim.key, fp, claim.owner,
                                         settings.idempotency_lease_ms)
            decision = decide(existing, fp)
            if decision is Decision.MISMATCH:
                raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used "
                               "for a different request (method, path or body)")
            if decision is Decision.IN_FLIGHT:
                response = error_response(409, "idempotency_in_flight", "a request with this "
                                          "Idempotency-Key is still being processed; retry")
                response.headers["retry-after"] = "1"
                return response
            if decision is Decision.REPLAY:
                assert existing is not None and existing.outcome is not None
                return _replay(existing.outcome)
            inner = Request({**request.scope, _SCOPE_KEY: claim}, _body_replayer(body))
            try:
                response = await handler(inner)
            except ApiError as exc:
                response = error_response(exc.status, exc.code, exc.message)
                if exc.headers:  # Retry-After of a 503 busy, say
                    response.headers.update(exc.headers)
            except BaseException:
                with contextlib.suppress(Exception):
                    await store.release(redis, claim.key, claim.owner)
                raise
            await _settle(redis, claim, response)
            return response

        amend(run, document)
        return run

    return wrap


async def _settle(redis: Any, claim: Claim, response: Response) -> None:
    """Record the response under the claim (or release the claim for a 5xx)."""
    if claim.recorded:
        return
    body = getattr(response, "body", None)
    if not recordable(response.status_code) or not isinstance(body, bytes):
        with contextlib.suppress(Exception):
            await store.release(redis, claim.key, claim.owner)
        return
    outcome = Outcome(response.status_code, kept_headers(response.raw_headers), body)
    try:
        if not await store.record(redis, claim.key, claim.fingerprint, claim.owner, outcome,
                                  claim.ttl_ms):
            log.warning("idempotency key %s was taken over before its outcome was recorded",
                        claim.key)
    except RedisError as exc:
        # The write happened: say so to the client rather than invite a retry. The
        # claim's lease answers 409 to repeats until it expires.
        log.warning("could not record idempotent outcome for %s: %r", claim.key, exc)


async def redis_write(request: Request, command: str, key: str, *args: Any,
                      respond: Callable[[Any], Response]) -> Response:
    """Run one Redis write command and answer ``respond(result)``.

    Under an idempotency claim in the same slot as ``key`` the command and the
    record of the response are one Lua script (``idempotency_store.WRITE``):
    ``respond`` is called first with :data:`RESULT` standing for the result to
    build the stored body. Otherwise this is the plain command.
    """
    redis = stores(request).redis
    claim: Claim | None = request.scope.get(_SCOPE_KEY)
    if claim is None or hash_tag(claim.key) != hash_tag(key) \
            or command not in store.ATOMIC_COMMANDS:
        return respond(await redis.execute_command(command, key, *args))
    template = respond(RESULT)
    outcome = Outcome(template.status_code, kept_headers(template.raw_headers), template.body)
    written, shown = await store.write_and_record(
        redis, claim.key, key, claim.fingerprint, claim.owner, claim.ttl_ms, outcome,
        _RESULT_JSON, command, list(args))
    if not written:
        raise ApiError(409, "idempotency_in_flight", "another attempt with this "
                       "Idempotency-Key took over; retry")
    claim.recorded = True
    return respond(int(shown))
