"""One proxied request: pick an instance, send, stream the answer back, retry when safe.

An Exchange is driven entirely by callbacks (client parser events, upstream
parser events, connect results, the timeout sweep); there is no task per
request. Its life:

    start → attempt (pick, idle conn or connect) → bind (send head + body so far)
          → response head → body … → done → release conn, finish
    any failure before the response head → may_retry? → attempt again elsewhere
                                           → else a JSON 502/503/504

The request body is kept in memory only while it is small (``REPLAY_LIMIT``):
that copy is what makes a retry possible; a larger body streams through and
its request is simply not retried once anything was sent.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from time import monotonic
from typing import TYPE_CHECKING, Any

from stateline.gateway import errors
from stateline.gateway.clock import coarse
from stateline.gateway.framing import BODY_CHUNKED, BODY_NONE, NO_BODY, BodyFraming
from stateline.gateway.health import Outcome
from stateline.gateway.retry import Failure, may_retry

if TYPE_CHECKING:
    from stateline.gateway.client_protocol import ClientProtocol
    from stateline.gateway.headers import ResponseHeaders
    from stateline.gateway.pool import Pool
    from stateline.gateway.routes import Route
    from stateline.gateway.upstream import Upstream
    from stateline.gateway.upstream_protocol import UpstreamConnection

log = logging.getLogger("stateline.gateway")

REPLAY_LIMIT = 64 * 1024
EXPECT_WAIT = 1.0  # seconds to wait for an instance's 100 Continue before sending our own
_BUFFER = 4  # ClientProtocol pause reason: body buffered while no connection is bound
_UPLOAD = 2  # ClientProtocol pause reason: the instance's socket is full (it is not reading)
_READ_PAUSES = 2 | 4  # UPLOAD | BUFFER: this exchange's reasons to stop reading the client
_DOWNLOAD = 8  # the client's socket is full

_FREE_RETRIES = (Failure.CONNECT_FAILED, Failure.STALE_CONNECTION, Failure.MISDIRECTED)
# Enum members as module constants: reading ``Outcome.SUCCESS`` goes through the enum
# class's attribute machinery (tens of nanoseconds), and this runs on every request.
_SUCCESS = Outcome.SUCCESS
_SERVER_ERROR = Outcome.SERVER_ERROR
_RETRY_STATUSES = frozenset({502, 503, 504})
# A connect that failed for want of the gateway's own resources (descriptors, memory,
# local ports) says nothing about the instance: no health record, no retry elsewhere.
LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
                          errno.EADDRNOTAVAIL})
_NO_BODY_STATUSES = frozenset({204, 304})


class Exchange:
    # Compiled as a typed extension class (proxy.pxd): every attribute is
    # assigned in __init__, none is a class-level default.
    def __init__(self, client: ClientProtocol, route: Route, method: bytes, head: bytes,
                 request_id: bytes, framing: BodyFraming, keep_alive: bool,
                 key: bytes | None, expect_continue: bool, idempotent_key: bool) -> None:
        self.client = client
        self.route = route
        self.pool: Pool = route.pool
        self.method = method
        self.head = head
        self.request_id = request_id
        self.framing = framing
        # (``is NO_BODY`` first: most requests have no body, and the identity test
        # is one C comparison where ``kind`` is an attribute read and two int compares)
        self.chunked_in = framing is not NO_BODY and framing.kind == BODY_CHUNKED
        self.keep_alive = keep_alive
        self.key = key
        self.expect_continue = expect_continue
        self.idempotent_key = idempotent_key
        self.head_only = method == b"HEAD"
        # this request's own version: a pipelined request parsed meanwhile may differ
        self.http10 = client.http10
        self.request_done = framing is NO_BODY or framing.kind == BODY_NONE
        self.started = monotonic()
        # seconds from ``started`` to the instance's response being accounted; < 0 until then
        # (read once, in ``_account``, and reused by ``_finish``: one clock call per request)
        self.elapsed = -1.0
        # The rest of the state starts the same for every request.
        self.body: list[bytes] | tuple[()] = ()  # kept request body: replay copy, or not yet sent
        self.body_bytes = 0
        self.replayable = True
        self.upstream: Upstream | None = None
        self.conn: UpstreamConnection | None = None
        self.tried: tuple[str, ...] = ()
        self.attempts = 0
        self.retrying = False  # holds one unit of the retry budget
        self.response_started = False
        self.out_body = True
        self.out_chunked = False
        self.eof_body = False  # the instance's body ends when it closes
        self.close_client = False
        self.finished = False
        self.held = False  # chunked: waiting for the first chunk size before going upstream
        self.await_continue = False  # Expect: waiting for the instance's 100 (or its final answer)
        self.refused = False  # the instance answered >= 400 before the body was all sent
        self.chunk_ok = False
        self.status = 0
        self.activity = 0.0  # coarse time of the last sign of life from the upstream side
        self.limit_id = ""  # whom a rate limit counts this request against (set by the client)
        self.fresh_connection = False  # never take an idle connection (an upgrade: tunnel.py)
        self.try_expired = 0  # the attempt whose try_timeout passed (see check_timeout)

    # -- from the client connection ---------------------------------------------

    def start(self) -> None:
        """This exchange is now the one whose response the client gets next."""
        self.pool.budget.request_started()
        if self.route.limiter is not None:
            asyncio.get_running_loop().create_task(self._limited_start(self.route.limiter))
            return
        self._begin()

    def _begin(self) -> None:
        """Go upstream now, unless the body's first chunk size has not been checked yet."""
        if self.expect_continue:
            self._expect()
        if self.chunked_in and not self.chunk_ok:
            self.held = True
            return
        self._attempt()

    def chunk_validated(self) -> None:
        """The first chunk-size line parsed: the held request may now go upstream.

        A chunked request's head is held back until llhttp has accepted its first
        chunk size, so a request whose body framing is broken from the start is
        answered 400 without the instance ever seeing (and acting on) its head.
        """
        self.chunk_ok = True
        if self.held and not self.finished:
            self.held = False
            self._attempt()

    def _continue(self) -> None:
        if not self.request_done and not self.body:
            self.client.wbuf.append(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _expect(self) -> None:
        """``Expect: 100-continue``: let the instance decide before the client sends the body.

        The head goes upstream with the Expect header; the instance's ``100``
        is relayed, and a final answer it gives at once (413 to an upload over
        its limit) reaches the client without a ``100`` before it, so no body
        is sent in vain. An instance that ignores Expect gets a ``100`` from
        the gateway after ``EXPECT_WAIT`` seconds, as curl itself would go on.
        A chunked body cannot wait (its head is held for the first chunk).
        """
        if self.chunked_in or self.request_done or self.body:
            self._continue()
            return
        self.await_continue = True
        self.head = self.head[:-2] + b"expect: 100-continue\r\n\r\n"

    def upstream_continue(self) -> None:
        """The instance answered ``100 Continue``: pass it on (once)."""
        if self.await_continue and not self.response_started:
            self.await_continue = False
            self.client.last_active = coarse.now
            self._continue()

    async def _limited_start(self, limiter: Any) -> None:
        try:
            decision = await limiter.allow(f"{self.route.prefix.decode()}|{self.limit_id}")
        except Exception as exc:  # fail open: the limiter's store must not take the edge down
            log.warning("rate limiter unavailable, allowing: %s", exc)
            decision = None
        if self.finished:
            return
        if decision is not None and not decision.allowed:
            self.pool.metrics.rate_limited += 1
            retry_after = b"%d" % max(1, round(decision.retry_after_s + 0.499))
            self._local_error(429, "rate_limited", "too many requests; slow down",
                              extra=((b"retry-after", retry_after),))
        else:
            self._begin()
        self.client.flush()

    def on_body(self, data: bytes) -> None:
        if self.finished or self.refused:
            return
        self.body_bytes += len(data)
        if self.body_bytes > self.pool.config.max_body_bytes:
            self.replayable = False
            self._local_error(413, "body_too_large", "request body over the limit")
            self.close_client = True
            return
        if self.chunked_in:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._send_body(data)

    def on_done(self) -> None:
        if self.finished:
            self.request_done = True
            return
        if self.refused:
            # The body was cut short: the connection must never be reused for
            # another request (the instance may still expect bytes).
            self.request_done = True
            if self.conn is not None:
                self.conn.closed = True
            return
        if self.chunked_in:
            self._send_body(b"0\r\n\r\n")
        self.request_done = True
        self.activity = coarse.now  # the response timeout runs from here
        if self.held:
            self.chunk_validated()

    def _send_body(self, data: bytes) -> None:
        conn = self.conn
        if conn is None:  # not bound yet: keep it, and stop reading if it piles up
            self._keep(data)
            if sum(map(len, self.body)) > REPLAY_LIMIT:
                self.client.pause(_BUFFER)
            return
        conn.write(data)
        self.activity = coarse.now  # the instance takes the body: a sign of life
        if self.replayable:
            if self.body_bytes <= REPLAY_LIMIT:
                self._keep(data)
            else:
                self.replayable = False
                self.body = ()

    def _keep(self, data: bytes) -> None:
        if self.body:
            self.body.append(data)  # type: ignore[union-attr]
        else:
            self.body = [data]

    def client_gone(self) -> None:
        """The client closed: abandon the upstream side (its connection cannot be reused)."""
        if self.finished:
            return
        if self.upstream is not None:
            self.upstream.outstanding -= 1
        conn = self.conn
        if conn is not None and not self.request_done and conn.transport is not None:
            # Reset, not close: the instance must see a broken request, never a
            # complete one (a framing error mid-body, or the client went away).
            conn.transport.abort()
        self._drop_conn()
        self.upstream = None
        self.status = 499
        self._finish()

    # -- attempts -------------------------------------------------------------------

    def _attempt(self) -> None:
        up = self.pool.pick(self.key, self.tried)
        if up is None:
            self._local_error(503, "no_upstream", f"no instance available in pool {self.pool.name}")
            return
        self.tried = (*self.tried, up.id) if self.tried else (up.id,)
        self.attempts += 1
        self.upstream = up
        up.outstanding += 1
        self.activity = coarse.now
        idle = up.idle
        conn = idle.pop() if idle and not self.fresh_connection else None
        if conn is not None and conn.closed:
            conn = up.take_idle()
        if conn is None:
            up.connect(self)  # -> connected() or connect_failed()
            return
        self._bind(conn, True)

    def _send_buffered(self, conn: UpstreamConnection) -> None:
        conn.write(b"".join((self.head, *self.body)))
        if not self.replayable or self.body_bytes > REPLAY_LIMIT:
            self.replayable = False
            self.body = ()
        self.client.resume(_BUFFER)

    def _bind(self, conn: UpstreamConnection, reused: bool) -> None:
        """The connection now serves this exchange: send the head (and any body kept)."""
        conn.ex = self
        conn.reused = reused
        conn.got_bytes = False
        self.conn = conn
        if self.body:
            self._send_buffered(conn)
        else:
            conn.write(self.head)

    def connected(self, up: Upstream, conn: UpstreamConnection) -> None:
        if self.finished or self.upstream is not up or self.conn is not None:
            up.release(conn)
            return
        self._bind(conn, False)

    def connect_failed(self, up: Upstream, exc: BaseException) -> None:
        if self.finished or self.upstream is not up or self.conn is not None:
            return
        if isinstance(exc, OSError) and exc.errno in LOCAL_ERRNOS:
            # The gateway is out of descriptors: its fault, not the instance's (which is
            # neither marked down nor tried again elsewhere, where the same would happen).
            up.metrics.error("gateway_resources")
            self._local_error(503, "gateway_overloaded",
                              "the gateway is out of connections; try again shortly",
                              extra=((b"retry-after", b"1"),))
            return
        self._failed(Failure.CONNECT_FAILED, Outcome.CONNECT_FAILURE, "connect_failed")

    def check_timeout(self, now: float) -> None:
        if self.finished or self.upstream is None:
            return
        if self.await_continue and now - self.activity > EXPECT_WAIT:
            self.await_continue = False
            if not self.response_started and not self.body_bytes:
                self.client.last_active = now
                self._continue()
        if not self.request_done and not self.response_started \
                and not self.client.paused & _UPLOAD:
            # The body is still coming and the instance takes it as it comes: the wait
            # is on the client (request_body_timeout), not the instance. The response
            # timeout starts once the body has been sent (on_done).
            return
        silent = now - self.activity
        config = self.pool.config
        if silent > config.response_timeout:
            if self.response_started:
                self._abort("timeout")
            else:
                self._failed(Failure.UPSTREAM_TIMEOUT, Outcome.GATEWAY_FAILURE, "timeout")
        elif config.try_timeout and silent > config.try_timeout and not self.response_started \
                and self.try_expired != self.attempts:
            self.try_expired = self.attempts  # asked once per attempt, not on every sweep
            if not self._may_retry(Failure.UPSTREAM_TIMEOUT):
                return
            # A per-try timeout: this instance has said nothing for try_timeout since the
            # body went out (it hangs, or was cut off mid-request); a request that may be
            # repeated goes to another one now rather than after response_timeout. Any
            # other request (a POST without an idempotency key, no instance left to try,
            # no retry budget) waits on for response_timeout, as without try_timeout.
            self._failed(Failure.UPSTREAM_TIMEOUT, Outcome.GATEWAY_FAILURE, "try_timeout",
                         retry_checked=True)

    # -- from the upstream connection -------------------------------------------

    def response_head(self, conn: UpstreamConnection, status: int,
                      headers: ResponseHeaders) -> None:
        """The instance's response head: decide framing for the client and send the head."""
        if conn is not self.conn:
            return
        if status == 421 and self._may_retry(Failure.MISDIRECTED):
            # Refused unprocessed by a shard that does not own the key: ask the next
            # one. The instance is healthy, so this is not a failure for ejection.
            self._failed(Failure.MISDIRECTED, _SUCCESS, "misdirected", retry_checked=True)
            return
        if status in _RETRY_STATUSES and self._may_retry(Failure.HTTP_5XX):
            self._failed(Failure.HTTP_5XX, Outcome.GATEWAY_FAILURE, f"http_{status}",
                         retry_checked=True)
            return
        has_body = status not in _NO_BODY_STATUSES and not self.head_only
        self.out_body = has_body
        te = headers.transfer_encoding
        out_cl = headers.content_length if (not te and (has_body or self.head_only
                                                        or status == 304)) else None
        client = self.client
        if has_body and out_cl is None:
            if self.http10:
                self.close_client = True  # close-delimited body for a 1.0 client
            else:
                self.out_chunked = True
            self.eof_body = not te
        # while stopping, only pipelined requests already received keep it open
        keep = self.keep_alive and not self.close_client and (not client.gw.stopping
                                                              or bool(client.queue))
        if not self.request_done:
            keep = False
            if status >= 400:
                self.refused = True  # an early refusal: the rest of the body is not sent
        client.wbuf.append(headers.head(status, conn.upstream.id_bytes, self.request_id, out_cl,
                                        self.out_chunked, keep, self.http10))
        self.close_client = not keep
        self.response_started = True
        self.status = status
        if client.paused & _DOWNLOAD and conn.transport is not None:
            conn.transport.pause_reading()  # the client is still slow from the last response
            client.download_paused_conn = conn
        if self.head_only:
            # llhttp cannot be told the request was HEAD: it would wait for a body.
            # The connection gets a fresh parser once this read is fully parsed.
            self._account(conn)
            conn.ex = None
            conn.after_feed = conn.upstream if self.request_done and conn.keep_alive() else None
            if conn.after_feed is None:
                conn.close()
            self._finish()

    def response_done(self, conn: UpstreamConnection) -> None:
        if conn is not self.conn:
            return
        if self.out_chunked:
            self.client.wbuf.append(b"0\r\n\r\n")
        up = self._account(conn)
        if self.request_done and not self.eof_body and not conn.closed \
                and conn.parser.should_keep_alive():
            conn.ex = None
            if up.removed or len(up.idle) >= up.max_idle:
                conn.close()
            else:
                up.idle.append(conn)
        else:
            conn.close()
        self._finish()

    def _account(self, conn: UpstreamConnection) -> Upstream:
        up = conn.upstream
        up.outstanding -= 1
        self.elapsed = monotonic() - self.started
        up.metrics.observe(self.elapsed)  # counts the response, per instance
        if self.status < 500:
            self.pool.health.record(up.id, _SUCCESS, coarse.now)
        else:
            self.pool.record(up.id, _SERVER_ERROR, coarse.now)
        self.conn = None
        self.upstream = None
        return up

    def upstream_lost(self, conn: UpstreamConnection) -> None:
        if conn is not self.conn:
            return
        if self.response_started:
            if self.eof_body:  # a close-delimited body ends here
                self.response_done(conn)
            else:
                self._abort("reset")
            return
        if not conn.got_bytes:
            failure = Failure.STALE_CONNECTION if conn.reused else Failure.RESET_AFTER_SEND
            self._failed(failure, Outcome.GATEWAY_FAILURE, "reset")
        else:
            self._failed(Failure.BAD_RESPONSE, Outcome.GATEWAY_FAILURE, "bad_response")

    def upstream_bad(self, conn: UpstreamConnection) -> None:
        if conn is not self.conn:
            return
        if self.response_started:
            self._abort("bad_response")
        else:
            self._failed(Failure.BAD_RESPONSE, Outcome.GATEWAY_FAILURE, "bad_response")

    # -- protocol upgrades: tunnel.UpgradeExchange overrides these ------------------

    def upstream_switching(self, conn: UpstreamConnection, headers: ResponseHeaders) -> None:
        """A 101 to a request that asked for no upgrade: nothing this hop can relay."""
        self.upstream_bad(conn)

    def upstream_switched(self, conn: UpstreamConnection, rest: bytes) -> None:
        """Bytes after a 101 head: only an upgrade exchange has a tunnel to give them."""
        self.upstream_bad(conn)

    # -- endings -------------------------------------------------------------------

    def _may_retry(self, failure: Failure) -> bool:
        if self.attempts > self.pool.config.retries or self.client.transport is None:
            return False
        if not may_retry(self.method, self.idempotent_key, failure, self.replayable):
            return False
        if not any(u.id not in self.tried for u in self.pool.candidates()):
            return False
        if failure in _FREE_RETRIES:
            # Nothing reached the instance: the retry adds no load to an app, so it is
            # bounded by ``retries`` alone, not by the budget (which guards the apps).
            return True
        return self.pool.budget.try_acquire()

    def _failed(self, failure: Failure, outcome: Outcome, kind: str, *,
                retry_checked: bool = False) -> None:
        up = self.upstream
        if up is not None:
            up.outstanding -= 1
            up.metrics.error(kind)
            self.pool.record(up.id, outcome, monotonic())
        self._drop_conn()
        self.upstream = None
        if self.retrying:
            self.pool.budget.release()
            self.retrying = False
        if retry_checked or self._may_retry(failure):
            self.retrying = failure not in _FREE_RETRIES
            self.pool.metrics.retries += 1
            self._attempt()
            return
        status, code, message = errors.FAILURE_ANSWERS[failure.name]
        self._local_error(status, code, message)

    def _drop_conn(self) -> None:
        conn = self.conn
        self.conn = None
        if conn is not None:
            conn.close()
        self.client.resume(_BUFFER)

    def _abort(self, kind: str) -> None:
        """The response was cut after its head went out: all we can do is close the client."""
        up = self.upstream
        if up is not None:
            up.outstanding -= 1
            up.metrics.error(kind)
            self.pool.record(up.id, Outcome.GATEWAY_FAILURE, monotonic())
        self._drop_conn()
        self.upstream = None
        self.close_client = True
        self.client.abort_after_flush()
        self._finish()

    def _local_error(self, status: int, code: str, message: str,
                     extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        if self.response_started or self.finished:
            return
        if self.upstream is not None:
            self.upstream.outstanding -= 1
            self.upstream = None
        self._drop_conn()
        keep = self.keep_alive and self.request_done and (not self.client.gw.stopping
                                                          or bool(self.client.queue))
        self.close_client = not keep
        self.client.write(errors.error_response(
            status, code, message, keep_alive=keep, head_only=self.head_only,
            extra=((b"x-request-id", self.request_id), *extra)))
        self.status = status
        self.response_started = True
        self._finish()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.body = ()
        if self.client.paused & _READ_PAUSES:
            self.client.resume(_READ_PAUSES)
        pool = self.pool
        pool.budget.request_finished()
        if self.retrying:
            pool.budget.release()
            self.retrying = False
        # proxied: the time _account read (so pool and instance figures agree); else now
        pool.metrics.observe(self.status, self.elapsed if self.elapsed >= 0.0
                             else monotonic() - self.started)
        self.client.exchange_finished(self)
