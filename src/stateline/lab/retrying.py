"""A retrying writer and the exactly-once tally: how a good client behaves, and what it cost.

:class:`RetryingWriter` sends one logical operation (a cart add, a counter
increment) until it is acknowledged, the way a client library does: on a
5xx, a timeout or a dropped connection it waits a little and sends the same
request again; on ``409 idempotency_in_flight`` too (any other 4xx is final).
With ``keyed`` every
attempt of one operation carries the same ``Idempotency-Key``; without, the
retries are indistinguishable from new requests.

:func:`tally` compares what the writers were told (acknowledged, or given up)
with the final state: each cart add writes its own sku with qty 1, so the
cart says exactly how often each operation was applied; the counter only says
how much it grew, so its duplicates and losses are lower bounds. A user
create cannot be applied twice (the email is UNIQUE), but a retry that finds
its own first attempt's user gets ``409 email_taken``: without a key that is
the duplicate the database refused; with a key it means the first attempt's
instance died after the SQL commit and before the outcome was recorded -- the
window that remains for SQL writes (docs/api.md), counted here.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Statuses after which the client sends the operation again (409: only while in flight).
RETRY_STATUSES = frozenset({409, 500, 502, 503, 504})
IN_FLIGHT = "idempotency_in_flight"


@dataclass
class Op:
    """One logical write and what its client learned about it."""

    kind: str  # "cart", "counter" or "user"
    sku: str | None = None  # cart: the line this op adds 1 to
    attempts: int = 0
    acked: bool = False
    replayed: bool = False
    statuses: list[int | str] = field(default_factory=list)
    code: str | None = None  # the error code of the final answer, if it was an error


class RetryingWriter:
    """One client connection to the gateway; :meth:`perform` runs one op to its end."""

    def __init__(self, port: int, keyed: bool, timeout: float = 2.0, max_attempts: int = 12,
                 backoff_s: float = 0.05, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self.keyed = keyed
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.requests = 0
        self._conn: http.client.HTTPConnection | None = None

    def _send(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self.requests += 1
        try:
            self._conn.request(method, path, body=body, headers=headers)
            r = self._conn.getresponse()
            raw = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, raw
        except BaseException:
            self.close()
            raise

    def perform(self, op: Op, method: str, path: str, body: Any = None) -> Op:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if payload is not None else {}
        if self.keyed:
            headers["idempotency-key"] = uuid.uuid4().hex
        while op.attempts < self.max_attempts:
            op.attempts += 1
            try:
                status, got, raw = self._send(method, path, payload, headers)
            except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors
                op.statuses.append(type(exc).__name__)
            else:
                op.statuses.append(status)
                if 200 <= status < 300:
                    op.acked = True
                    op.replayed = got.get("idempotent-replayed") == "true"
                    return op
                op.code = _error_code(raw)
                if status not in RETRY_STATUSES or (status == 409 and op.code != IN_FLIGHT):
                    return op  # a refusal: retrying would not change it
            time.sleep(self.backoff_s * min(op.attempts, 8))
        return op

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _error_code(raw: bytes) -> str | None:
    try:
        return str(json.loads(raw)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def tally(ops: Iterable[Op], cart_lines: Mapping[str, int],
          counter_delta: int) -> dict[str, int]:
    """Duplicates and losses of one writer kind, from its ops and the state they left.

    - cart: an op's line qty is how often it was applied; qty ≥ 2 is qty - 1
      duplicates, an acknowledged op with qty 0 is lost;
    - counter: growth beyond (acknowledged + unresolved) ops is duplicated
      (at least), acknowledged ops beyond the growth are lost (at least).
    """
    ops = list(ops)
    carts = [o for o in ops if o.kind == "cart"]
    counters = [o for o in ops if o.kind == "counter"]
    cart_dups = sum(max(0, cart_lines.get(o.sku or "", 0) - 1) for o in carts)
    cart_lost = sum(1 for o in carts if o.acked and cart_lines.get(o.sku or "", 0) == 0)
    acked = sum(1 for o in counters if o.acked)
    unresolved = sum(1 for o in counters if not o.acked)
    counter_dups = max(0, counter_delta - acked - unresolved)
    counter_lost = max(0, acked - counter_delta)
    users = [o for o in ops if o.kind == "user"]
    return {
        "ops": len(ops),
        "acknowledged": sum(1 for o in ops if o.acked),
        "unresolved": sum(1 for o in ops if not o.acked),
        "retried": sum(1 for o in ops if o.attempts > 1),
        "replayed": sum(1 for o in ops if o.replayed),
        "duplicates": cart_dups + counter_dups,
        "duplicates_cart": cart_dups,
        "duplicates_counter": counter_dups,
        "lost_acknowledged": cart_lost + counter_lost,
        "users": len(users),
        "users_refused_as_taken": sum(1 for o in users if o.code == "email_taken"),
    }
