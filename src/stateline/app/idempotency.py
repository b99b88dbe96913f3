"""Idempotency keys, the pure part: which key, which scope, which fingerprint, what to do.

A client that sends ``Idempotency-Key: K`` with a state-changing request asks
"apply this once, however often I send it". Following Stripe and the IETF
draft (draft-ietf-httpapi-idempotency-key-header), the first request with a
key *claims* it and its outcome is recorded; a repeat then gets, depending on
the record:

- nothing recorded yet → this request runs (:attr:`Decision.PROCEED`);
- another body, path or method under the same key → 422 (:attr:`Decision.MISMATCH`):
  a reused key is a client bug, and answering with the first request's outcome
  would hide it;
- the first attempt is still running → 409 (:attr:`Decision.IN_FLIGHT`), so two
  attempts never run at once;
- the outcome is recorded → that status, those headers and that body again
  (:attr:`Decision.REPLAY`), marked ``Idempotent-Replayed: true``.

This module only decides; ``idempotency_store`` keeps the records in Redis and
``idempotency_http`` applies the decision to requests. Keeping the decision
pure is what lets the unit tests cover every case without a server.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from enum import Enum

import orjson

from stateline.app.errors import ApiError

KEY_HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
#: Stripe's limit; the draft sets none. A UUID (36 characters) is the usual key.
MAX_KEY_CHARS = 255
#: Visible ASCII except the quote and backslash (an sf-string's own characters).
_KEY_CHAR = r'[\x21\x23-\x5b\x5d-\x7e]'
_KEY = re.compile(_KEY_CHAR + "+")
#: What :func:`parse_key` accepts, as a JSON Schema pattern: the key bare or as an sf-string.
KEY_PATTERN = (f"^(?:{_KEY_CHAR}{{1,{MAX_KEY_CHARS}}}"
               f'|"{_KEY_CHAR}{{1,{MAX_KEY_CHARS}}}")$')
#: Response headers worth replaying: what the client acts on. ``Content-Length``
#: is recomputed, and ``X-Instance-Id`` names whoever answers the repeat.
KEPT_HEADERS = frozenset({"content-type", "location", "set-cookie", "cache-control"})
#: A scope's hash tag must not contain the braces that delimit it.
_TAG = re.compile(r"[^{}]{1,200}")


class Decision(Enum):
    PROCEED = "proceed"
    REPLAY = "replay"
    IN_FLIGHT = "in_flight"
    MISMATCH = "mismatch"


def parse_key(values: list[str]) -> str:
    """The key from the header's values, or 400.

    The draft writes the key as a structured-field string (``"abc"``); Stripe
    and most clients send it bare. Both are accepted and mean the same key.
    """
    if len(values) != 1:
        raise ApiError(400, "invalid_idempotency_key", "send one Idempotency-Key header, not "
                       f"{len(values)}")
    key = values[0].strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_CHARS or not _KEY.fullmatch(key):
        raise ApiError(400, "invalid_idempotency_key",
                       f"Idempotency-Key must be 1..{MAX_KEY_CHARS} visible ASCII characters "
                       "(no quote, backslash or space)")
    return key


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests "the same request": method, path, query and body bytes.

    Bytes, not parsed JSON: ``{"a":1,"b":2}`` and ``{"b":2,"a":1}`` differ here.
    A client that retries sends the same bytes, and a stricter check cannot
    replay one request's outcome for another.
    """
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode()):
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    h.update(body)
    return h.hexdigest()


def record_key(endpoint: str, tag: str, key: str) -> str:
    """The Redis key of one idempotency record.

    ``tag`` is the scope's partition (the cart's user, the player, the counter)
    and also the key's Redis Cluster hash tag: when it equals the hash tag of
    the data key a handler writes, record and data live in one slot and one
    Lua script can write both (see ``idempotency_store``).
    """
    if not _TAG.fullmatch(tag):
        raise ValueError(f"bad idempotency scope tag {tag!r}")
    return f"stateline:idem:{{{tag}}}:{endpoint}:{key}"


def hash_tag(redis_key: str) -> str:
    """Redis Cluster's hash tag of a key: what its slot is computed from."""
    start = redis_key.find("{")
    if start >= 0:
        end = redis_key.find("}", start + 1)
        if end > start + 1:
            return redis_key[start + 1:end]
    return redis_key


@dataclass(frozen=True)
class Outcome:
    """A recorded response: status, the headers that matter, body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def encoded(self) -> dict[str, str]:
        """As record fields (text: the app's Redis client decodes replies as UTF-8)."""
        try:
            body, enc = self.body.decode("utf-8"), "utf8"
        except UnicodeDecodeError:
            body, enc = base64.b64encode(self.body).decode("ascii"), "b64"
        return {"status": str(self.status), "headers": orjson.dumps(self.headers).decode(),
                "body": body, "enc": enc}


def kept_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw
            if k.decode("latin-1").lower() in KEPT_HEADERS]


@dataclass(frozen=True)
class Record:
    """What Redis holds under a record key: a claim, and once known, the outcome."""

    state: str  # "inflight" or "done"
    fingerprint: str
    outcome: Outcome | None = None

    @classmethod
    def from_fields(cls, fields: list[str | None]) -> Record:
        """From ``HMGET state fp status headers body enc`` (as the claim script returns it)."""
        state, fp, status, headers, body, enc = (list(fields) + [None] * 6)[:6]
        if state != "done" or status is None:
            return cls(state or "inflight", fp or "")
        raw = base64.b64decode(body or "") if enc == "b64" else (body or "").encode("utf-8")
        pairs = [(str(k), str(v)) for k, v in orjson.loads(headers or "[]")]
        return cls("done", fp or "", Outcome(int(status), pairs, raw))


def decide(existing: Record | None, fp: str) -> Decision:
    """What to do with a request whose key already has ``existing`` (None: we claimed it)."""
    if existing is None:
        return Decision.PROCEED
    if existing.fingerprint != fp:
        return Decision.MISMATCH
    if existing.state == "done" and existing.outcome is not None:
        return Decision.REPLAY
    return Decision.IN_FLIGHT


def recordable(status: int) -> bool:
    """Whether an outcome is final for its key.

    2xx and 4xx are: the same request gets the same answer. A 5xx is not: the
    server failed, the request may not have been applied, and the client's
    retry must be allowed to run (the claim is released instead).
    """
    return status < 500
