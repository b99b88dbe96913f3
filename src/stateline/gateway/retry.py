"""When the gateway may send a request again, and how many retries it may have in flight.

Retrying is what turns "an instance died" into "nobody noticed", and also what
turns "a payment was posted" into "a payment was posted twice". The rule that
separates the two is whether anything of the request can have reached the
application:

- ``CONNECT_FAILED``: the connection never opened, so the app saw nothing.
- ``STALE_CONNECTION``: a pooled keep-alive connection that had been idle was
  found closed or reset before a single response byte came back. This is the
  race every proxy with upstream keep-alive meets (the app closed the idle
  connection just as we reused it); the app closed it *before* reading our
  request, so it saw nothing either. Like the first, always safe to retry --
  provided the request body can be sent again (it was buffered, or empty).
- ``MISDIRECTED``: the instance answered ``421 Misdirected Request`` (RFC 9110
  section 15.5.20): it is not the one that serves this request and did
  nothing with it. A key-routed stateful pool (the rooms shards) answers so
  for a key it does not own; like the two above, the request may go to
  another instance whatever its method.

Anything later (reset after the request was sent, a timeout waiting for the
response, a garbled response, a 5xx) may have had effects, so the request is
retried only when repeating it is harmless: an idempotent method (RFC 9110
section 9.2.2: GET HEAD OPTIONS PUT DELETE TRACE) or a client-supplied
``Idempotency-Key`` (the app deduplicates by it). A non-idempotent request
that was sent is never sent twice.

Retries also need a budget: when the whole pool is struggling, retrying every
failure multiplies the load exactly when there is least capacity (a retry
storm). Envoy's retry budget allows retries only while they are at most
``budget_percent`` of the requests in flight, with a floor of
``min_retry_concurrency`` so a quiet gateway can still retry.
"""

from __future__ import annotations

from enum import Enum

IDEMPOTENT_METHODS: frozenset[bytes] = frozenset(
    {b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"}
)


class Failure(Enum):
    """How an attempt to an upstream failed."""

    CONNECT_FAILED = "connect_failed"
    STALE_CONNECTION = "stale_connection"  # reused idle connection closed before any response
    RESET_AFTER_SEND = "reset_after_send"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    BAD_RESPONSE = "bad_response"
    HTTP_5XX = "http_5xx"
    MISDIRECTED = "misdirected"  # a 421: the instance refused the request unprocessed

    @property
    def before_send(self) -> bool:
        """True when the application cannot have seen the request."""
        return self is Failure.CONNECT_FAILED or self is Failure.STALE_CONNECTION \
            or self is Failure.MISDIRECTED


def may_retry(method: bytes, has_idempotency_key: bool, failure: Failure,
              body_replayable: bool) -> bool:
    """Whether a failed attempt may be repeated on another instance.

    ``body_replayable`` is False when part of a streamed request body was
    already consumed and not kept: then nothing can be retried, whatever the
    method, because we could not send the same request again.
    """
    if not body_replayable:
        return False
    if failure is Failure.CONNECT_FAILED or failure is Failure.STALE_CONNECTION \
            or failure is Failure.MISDIRECTED:
        return True
    return has_idempotency_key or method in IDEMPOTENT_METHODS


class RetryBudget:
    """Envoy's retry budget: retries in flight stay under a share of requests in flight.

    One budget per pool and per process; counts are plain integers because the
    gateway's event loop is single-threaded. Call ``request_started`` /
    ``request_finished`` around each client request, and ``try_acquire`` /
    ``release`` around each retry attempt (only when ``try_acquire`` said yes).
    """

    def __init__(self, budget_percent: float = 20.0, min_retry_concurrency: int = 3) -> None:
        if budget_percent < 0:
            raise ValueError("budget_percent must be >= 0")
        if min_retry_concurrency < 0:
            raise ValueError("min_retry_concurrency must be >= 0")
        self.budget_percent = budget_percent
        self.min_retry_concurrency = min_retry_concurrency
        self.active_requests = 0
        self.active_retries = 0
        self.exhausted_total = 0  # retries refused for lack of budget, for metrics
        self._fraction = budget_percent / 100.0

    def request_started(self) -> None:
        self.active_requests += 1

    def request_finished(self) -> None:
        if self.active_requests > 0:
            self.active_requests -= 1

    def allowed(self) -> int:
        """How many retries may be in flight now."""
        return max(self.min_retry_concurrency, int(self.active_requests * self._fraction))

    def try_acquire(self) -> bool:
        """Take one retry from the budget; False (and counted) when it is spent."""
        if self.active_retries < max(self.min_retry_concurrency,
                                     int(self.active_requests * self._fraction)):
            self.active_retries += 1
            return True
        self.exhausted_total += 1
        return False

    def release(self) -> None:
        if self.active_retries > 0:
            self.active_retries -= 1
