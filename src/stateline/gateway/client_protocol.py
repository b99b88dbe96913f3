"""One client (downstream) connection: parser callbacks, limits, and the pipelining queue.

Requests on one connection are answered strictly in order. The request being
answered is ``current``; requests parsed while it is in flight wait in
``queue`` (and reading pauses, so a pipelining client cannot make the
gateway buffer without bound). Each queued item is either a proxied
:class:`~stateline.gateway.proxy.Exchange` or a :class:`LocalAnswer` (admin
endpoints, refusals), both with the same small interface:
``start / on_body / on_done / client_gone``.

Writes are collected in ``wbuf`` and flushed once per socket read, so a
response head and a small body leave in one ``send``.

Reading is paused for several independent reasons at once (a bit each): a
pipelined request waiting, an upload the upstream cannot take yet, a body
buffered while no upstream connection is bound, an upgrade waiting for the
instance's answer.

An upgrade request (WebSocket) is a :class:`~stateline.gateway.tunnel.UpgradeExchange`;
after a 101 this protocol hands its transport to a tunnel and is done
(see tunnel.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any

from httptools import HttpParserCallbackError, HttpParserError, HttpParserUpgrade, HttpRequestParser

from stateline.gateway import errors
from stateline.gateway.clock import coarse
from stateline.gateway.framing import (
    BODY_NONE,
    NO_BODY,
    FramingError,
    check_header_count,
    check_header_size,
    check_http_version,
    check_target_size,
    origin_form,
    request_body_framing,
)
from stateline.gateway.headers import (
    RequestHeaders,
    forwarded_fields,
    forwarded_proto,
    request_specials,
)
from stateline.gateway.paths import normalise_target
from stateline.gateway.proxy import Exchange
from stateline.gateway.tunnel import UpgradeExchange, wants_upgrade

if TYPE_CHECKING:
    from stateline.gateway.server import Gateway

PIPELINE = 1
UPLOAD = 2
BUFFER = 4
DOWNLOAD = 8  # not a read pause: the client's socket is full, the upstream pauses instead
UPGRADE = 16  # an upgrade request waits for the instance: what follows is not parsed yet
LINGER_S = 2.0  # after an error answer, discard what the client still sends for this long

_TOO_MANY = errors.error_response(503, "too_many_connections",
                                  "the gateway has too many open connections; try again shortly",
                                  keep_alive=False, extra=((b"retry-after", b"1"),))
_ADMIN = b"/_stateline/"


class LocalAnswer:
    """A response the gateway makes itself, sent once the request body has been read."""

    __slots__ = ("build", "chunk_ok", "client", "close_client", "finished", "keep_alive",
                 "request_done")

    def __init__(self, client: ClientProtocol, build: Any, *, keep_alive: bool,
                 request_done: bool, close: bool = False) -> None:
        self.client = client
        self.build = build  # bytes, or a callable(keep_alive) -> bytes
        self.keep_alive = keep_alive and not close
        self.close_client = close
        self.request_done = request_done
        self.finished = False
        self.chunk_ok = True  # nothing is held back for a local answer

    def start(self) -> None:
        if self.request_done:
            self._answer()

    def on_body(self, data: bytes) -> None:
        pass

    def on_done(self) -> None:
        self.request_done = True
        if self.client.current is self:
            self._answer()

    def client_gone(self) -> None:
        self.finished = True

    def _answer(self) -> None:
        if self.finished:
            return
        self.finished = True
        # while stopping, only requests already received keep the connection open
        keep = self.keep_alive and (not self.client.gw.stopping or bool(self.client.queue))
        self.close_client = not keep
        data = self.build if isinstance(self.build, bytes) else self.build(keep)
        self.client.write(data)
        self.client.exchange_finished(self)


class ClientProtocol:
    """An asyncio protocol (duck-typed: no base class, so it can compile to an extension type)."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.transport: asyncio.Transport | None = None
        self.parser = HttpRequestParser(self)
        self.client_ip = b"unknown"
        self.current: Any = None
        self.queue: deque[Any] = deque()
        self.parsing: Any = None  # the item whose request body is being parsed
        self.wbuf: list[bytes] = []
        self.paused = 0
        self.rejected = False
        self.http10 = False
        self.in_head = False
        self.head_started = 0.0
        self.head_size = 0
        self.url = b""
        idem = gw.config.idempotency_header.lower().encode("latin-1")
        # the head being parsed (a new one after each), knowing the configured key header
        self.headers = RequestHeaders(idem, request_specials(idem))
        # Two collectors take turns (the one just filled is read while the other is reset
        # for the next head), so no collector is made and freed per request.
        self.spare_headers = RequestHeaders(idem, self.headers.special, self.headers.filter)
        self.trailer_bytes = 0  # trailer fields of the body being parsed (dropped, counted)
        self.router = gw.router  # read once per connection rather than once per request
        self.proto = gw.proto
        config = gw.config  # the limits, likewise
        self.max_header_bytes = config.max_header_bytes
        self.max_target_bytes = config.max_target_bytes
        self.max_headers = config.max_headers
        self.trusted = False  # the peer is a trusted proxy (its X-Forwarded-Proto is kept)
        self.forwarded: bytes | None = None  # an untrusted peer's X-Forwarded-* fields, made once
        self.last_active = coarse.now
        self.download_paused_conn: Any = None  # the upstream connection paused for a slow client

    # -- asyncio callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        gw = self.gw
        if len(gw.connections) + len(gw.tunnels) >= gw.max_connections:
            # Over the cap (max_client_connections): refuse at once, before any parsing,
            # and cheaply (one write of a prepared answer), so a flood of silent
            # connections cannot take the descriptors that upstreams and clients need.
            gw.refused_connections += 1
            self.rejected = True
            transport.write(_TOO_MANY)  # type: ignore[attr-defined]
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        if peer:
            self.client_ip = str(peer[0]).encode()
            if self.gw.trusted_proxies:
                self.trusted = self.gw.trusts(str(peer[0]))
        if not self.trusted:  # the same fields on every request of this connection
            self.forwarded = forwarded_fields(self.client_ip, self.proto)
        self.gw.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gw.connections.discard(self)
        self.transport = None
        current, self.current = self.current, None
        if current is not None:
            current.client_gone()
        for item in self.queue:
            item.client_gone()
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        if self.rejected:
            return
        self.last_active = coarse.now
        if self.in_head:
            self.head_size += len(data)
        elif self.parsing is None:  # between messages: these bytes start a request head
            self.in_head = True
            self.head_started = coarse.now
            self.head_size = len(data)
        try:
            if self.head_size > self.max_header_bytes + len(data) and self.in_head:
                raise FramingError(431, "headers_too_large", "request headers too large")
            self.parser.feed_data(data)
        except HttpParserCallbackError as exc:
            cause = exc.__context__
            if not isinstance(cause, FramingError):
                raise
            self._reject(cause)
        except FramingError as exc:
            self._reject(exc)
        except HttpParserUpgrade as exc:
            # llhttp stops at the end of an upgrade request's head (what follows may be
            # another protocol): an UpgradeExchange parks the rest until the instance answers.
            offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
            item = self.queue[-1] if self.queue else self.current
            if not (isinstance(item, UpgradeExchange) and item.hold(data[offset:])):
                # Not tunnelled (h2c, HTTP/1.0, an admin path, or already answered): the
                # Upgrade header was dropped, so go on as plain HTTP/1.1.
                self.parser = HttpRequestParser(self)
                if offset < len(data):
                    self.data_received(data[offset:])
                    return
        except HttpParserError as exc:
            self._reject(FramingError(400, "bad_request", f"malformed request: {exc}"))
        wbuf = self.wbuf
        if wbuf:
            if self.transport is not None:
                self.transport.write(wbuf[0] if len(wbuf) == 1 else b"".join(wbuf))
            wbuf.clear()

    def pause_writing(self) -> None:
        self.paused |= DOWNLOAD
        conn = getattr(self.current, "conn", None)
        if conn is not None and conn.transport is not None:
            conn.transport.pause_reading()
            self.download_paused_conn = conn

    def resume_writing(self) -> None:
        self.paused &= ~DOWNLOAD
        conn, self.download_paused_conn = self.download_paused_conn, None
        if conn is not None and conn.transport is not None and not conn.closed:
            conn.transport.resume_reading()

    # -- parser callbacks ------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.max_target_bytes:
            check_target_size(len(self.url), self.max_target_bytes)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.parsing is not None:
            # A chunked body's trailer fields: dropped (RFC 9112 §7.1.2), but counted,
            # so that endless trailers cannot go on forever.
            self.trailer_bytes += len(name) + len(value) + 4
            if self.trailer_bytes > self.max_header_bytes:
                raise FramingError(431, "trailers_too_large", "request trailers too large")
            return
        headers = self.headers
        headers.add(name, value)
        if headers.size > self.max_header_bytes:
            check_header_size(headers.size + len(self.url), self.max_header_bytes)

    def on_headers_complete(self) -> None:
        self.in_head = False
        parser = self.parser
        url, headers = self.url, self.headers
        self.url = b""
        # Nothing keeps a collector past this call (what is needed later is copied out),
        # so the spare one, reset, collects the next head.
        spare = self.spare_headers
        spare.reset()
        self.headers, self.spare_headers = spare, headers
        specials = headers.specials
        host_only = len(specials) == 1 and specials[0][0] == b"host"
        keep_alive = parser.should_keep_alive()
        if keep_alive and host_only:
            # llhttp accepts HTTP/0.9, 1.0, 1.1 and 2.0 request lines, and of these only
            # 1.1 keeps a connection alive without a Connection header: so this is 1.1,
            # known without building the version string (a measurable cost per request).
            version = "1.1"
            http10 = self.http10 = False
        else:
            version = parser.get_http_version()
            http10 = self.http10 = version != "1.1"
            if http10:
                check_http_version(version)
        method = parser.get_method()
        if method == b"CONNECT":  # any target form: llhttp ends it at its head, like an upgrade
            raise FramingError(405, "method_not_allowed", "CONNECT is not supported")
        if headers.count > self.max_headers:
            check_header_count(headers.count, self.max_headers)
        if url.startswith(b"/"):
            target, authority = url, None
        else:
            target, authority = origin_form(method, url)
        # ``in`` first: bytes.find parses its arguments the slow way, and most targets have
        # no query
        path = target[:target.find(b"?")] if b"?" in target else target
        if 37 in path or (46 in path and b"/." in path):  # "%", or "." in a dot segment
            # One spelling for the admin check, routing, limits and the app (paths.py):
            # /api/%63arts and /x/../api/carts are /api/carts. (A byte as an int: its
            # ``in`` is a memchr, without the buffer protocol a bytes needle goes through.)
            target, path = normalise_target(target)
        router = self.router
        route = None if path.startswith(_ADMIN) else router.catch_all or router.match(path)
        if route is None:
            self._enqueue(self._local(method, target, headers, version, keep_alive))
            return
        pool = route.pool
        host = authority
        expect = idem = has_connection = False
        if host_only:  # the common case: of the fields that decide something, Host alone
            framing = NO_BODY
            if host is None:
                host = specials[0][1]
        else:
            framing = request_body_framing(specials, version, pool.config.max_body_bytes)
            for name, value in specials:
                if name == b"host":
                    if host is None:
                        host = value
                elif name == b"expect":
                    if value.strip().lower() != b"100-continue":
                        raise FramingError(417, "expectation_failed",
                                           "only 100-continue is supported")
                    expect = not http10
                elif name == b"connection" and value.lower() not in (b"keep-alive", b"close"):
                    has_connection = True
                elif name == headers.idempotency:
                    idem = True
        proto = forwarded_proto(specials, self.proto) if self.trusted else self.proto
        head, rid = headers.head(method, target, host or b"localhost", self.client_ip, proto,
                                 framing, has_connection, self.trusted, self.forwarded)
        key = pool.key_source.extract(target, headers.items()) if pool.needs_key else None
        protocols = wants_upgrade(specials) if has_connection and not http10 else None
        if protocols is None:
            # positional: keyword arguments cost measurably on this path
            ex = Exchange(self, route, method, head, rid, framing, keep_alive, key, expect, idem)
        else:  # rare: Connection names upgrade (a WebSocket handshake, say): see tunnel.py
            ex = UpgradeExchange(self, route, method, head, rid, framing, keep_alive, key, expect,
                                 idem, protocols)
        if route.limiter is not None:
            ex.limit_id = self._limit_id(route.limit_key, headers)
        self._enqueue(ex)

    def _limit_id(self, limit_key: str, headers: RequestHeaders) -> str:
        """Whom a rate limit counts this request against: a header's value, else the client IP."""
        if limit_key.startswith("header:"):
            want = limit_key[7:].lower().encode()
            for name, value in headers.items():
                if name == want and value.strip():
                    return value.strip().decode("latin-1")
        return self.client_ip.decode()

    def _local(self, method: bytes, target: bytes, headers: RequestHeaders, version: str,
               keep_alive: bool) -> LocalAnswer:
        """Admin endpoints and unrouted paths: answered here once the body has been read."""
        framing = request_body_framing(headers.specials, version, 1 << 20)
        done = framing.kind == BODY_NONE
        if target.startswith(_ADMIN):
            gw = self.gw
            fields = headers.items()
            if method == b"HEAD":  # every local answer to HEAD is its head alone
                return LocalAnswer(self, lambda keep: errors.head_of(
                    gw.admin.answer(method, target, fields, keep)),
                    keep_alive=keep_alive, request_done=done)
            return LocalAnswer(self, lambda keep: gw.admin.answer(method, target, fields, keep),
                               keep_alive=keep_alive, request_done=done)
        return LocalAnswer(self, errors.error_response(
            404, "no_route", "no route for this path", keep_alive=keep_alive,
            head_only=method == b"HEAD"), keep_alive=keep_alive, request_done=done)

    def on_body(self, body: bytes) -> None:
        if self.parsing is not None:
            self.parsing.on_body(body)

    def on_chunk_header(self) -> None:
        item = self.parsing
        if item is not None and not item.chunk_ok:
            item.chunk_validated()

    def on_message_complete(self) -> None:
        self.trailer_bytes = 0
        item, self.parsing = self.parsing, None
        if item is not None and not item.request_done:
            item.on_done()

    # -- items --------------------------------------------------------------------------

    def _enqueue(self, item: Any) -> None:
        self.parsing = item
        if self.current is None:
            self.current = item
            item.start()
        else:
            self.queue.append(item)
            self.pause(PIPELINE)

    def exchange_finished(self, item: Any) -> None:
        if item is not self.current:
            return
        self.current = None
        self.last_active = coarse.now
        # While stopping, a response that promised keep-alive leaves the connection
        # open: the client may already be sending its next request, which is
        # answered (with Connection: close); Gateway.stop closes it once idle.
        if item.close_client or self.transport is None:
            self.parsing = None
            if self.rejected or not item.request_done:
                self.close_lingering()
            else:
                self.close()
            return
        if self.queue:
            nxt = self.queue.popleft()
            if not self.queue:
                self.resume(PIPELINE)
            self.current = nxt
            nxt.start()

    def resume_http(self, pending: bytes) -> None:
        """An upgrade the instance refused: go on as HTTP/1.1, parsing what came meanwhile."""
        self.parser = HttpRequestParser(self)
        self.resume(UPGRADE)
        if pending:
            self.data_received(pending)

    def detach(self) -> asyncio.Transport | None:
        """Hand the transport over (a 101 made it a tunnel); this protocol is done with it."""
        self.flush()
        transport, self.transport = self.transport, None
        self.gw.connections.discard(self)
        self.paused = 0
        self.download_paused_conn = None
        return transport

    def _reject(self, err: FramingError) -> None:
        """Refuse a request: answer in order, then close; nothing more is parsed or forwarded."""
        self.rejected = True
        self.in_head = False
        if self.parsing is not None and self.parsing is not self.current:
            with contextlib.suppress(ValueError):
                self.queue.remove(self.parsing)
            self.parsing.client_gone()
        elif self.parsing is not None and not self.parsing.request_done:
            # The current request's body is corrupt: its answer can never be trusted.
            item = self.parsing
            item.client_gone()
            self.current = None
            if getattr(item, "response_started", False):
                self.parsing = None
                self.close()
                return
        self.parsing = None
        answer = LocalAnswer(
            self, errors.error_response(err.status, err.code, err.message, keep_alive=False,
                                        head_only=self._parsing_head_request()),
            keep_alive=False, request_done=True, close=True)
        if self.current is None:
            self.current = answer
            answer.start()
        else:
            self.queue.append(answer)
        self.pause(PIPELINE)

    def _parsing_head_request(self) -> bool:
        """Whether the request being refused is a HEAD (its answer then has no body)."""
        try:
            return self.parser.get_method() == b"HEAD"
        except Exception:  # a request line too broken to have a method
            return False

    # -- output and flow control ---------------------------------------------------------

    def write(self, data: bytes) -> None:
        self.wbuf.append(data)

    def flush(self) -> None:
        wbuf = self.wbuf
        if wbuf and self.transport is not None:
            self.transport.write(wbuf[0] if len(wbuf) == 1 else b"".join(wbuf))
        wbuf.clear()

    def close(self) -> None:
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def close_lingering(self) -> None:
        """Half-close after an answer the client may still be sending into (lingering close).

        Closing a socket with unread input makes the kernel send RST, and a
        client still writing its request (a huge head, a refused upload) may
        then lose the answer it was sent. So: send FIN, keep reading and
        discarding for at most ``LINGER_S``, and close when the client does.
        """
        self.flush()
        t = self.transport
        if t is None:
            return
        if not t.can_write_eof():
            t.close()
            return
        t.write_eof()
        self.rejected = True  # data_received discards from now on
        self.paused = 0
        t.resume_reading()
        asyncio.get_running_loop().call_later(LINGER_S, t.close)

    def eof_received(self) -> bool:
        return False  # the client is done sending: close (a lingering close ends here)

    def abort_after_flush(self) -> None:
        """A truncated response: flush what we have and close (the client sees the cut)."""
        self.close()

    def pause(self, reason: int) -> None:
        if not self.paused & ~DOWNLOAD and self.transport is not None:
            self.transport.pause_reading()
        self.paused |= reason

    def resume(self, reason: int) -> None:
        if not self.paused & reason:
            return
        self.paused &= ~reason
        if not self.paused & ~DOWNLOAD and self.transport is not None and not self.rejected:
            self.transport.resume_reading()

    def check_timeouts(self, now: float) -> None:
        """Called by the gateway's sweep: idle, slow heads, stalled bodies, silent upstreams."""
        cfg = self.gw.config
        current = self.current
        if self.in_head and now - self.head_started > cfg.header_read_timeout:
            self._reject(FramingError(408, "request_timeout", "request head took too long"))
            self.flush()
            return
        if current is None:
            if not self.in_head and now - self.last_active > self.gw.idle_timeout:
                self.close()
            return
        if not current.request_done and now - self.last_active > cfg.request_body_timeout \
                and not self.paused & ~DOWNLOAD and not getattr(current, "await_continue", False):
            # A stalled body (no byte for request_body_timeout while the gateway was
            # reading): answer 408 (unless a response already started) and abort the
            # upstream request, as for a stalled head.
            self._reject(FramingError(408, "request_body_timeout", "request body stalled"))
            self.flush()
            return
        if isinstance(current, Exchange):
            current.check_timeout(now)
            self.flush()
