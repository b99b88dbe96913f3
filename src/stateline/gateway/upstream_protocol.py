"""One HTTP/1.1 connection from the gateway to an instance, as an asyncio Protocol.

The connection parses responses with llhttp and hands every event straight to
the exchange it currently serves; it holds no request state of its own, so
returning it to the idle list is one assignment. Flow control works both
ways: when the upstream socket's send buffer fills (a big upload) the client
connection stops reading, and the client side pauses this connection's
reading when the client is slow to take a big download.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from stateline.gateway.clock import coarse
from stateline.gateway.headers import ResponseHeaders

# An instance's response head with more field bytes than this is a bad response (502):
# the gateway holds a head in memory until it is complete (nginx's limit is smaller).
MAX_RESPONSE_HEAD = 64 * 1024

if TYPE_CHECKING:
    from stateline.gateway.proxy import Exchange
    from stateline.gateway.upstream import Upstream


class UpstreamConnection:
    """An asyncio protocol (duck-typed: no base class, so it can compile to an extension type)."""

    __slots__ = ("after_feed", "closed", "ex", "fd", "got_bytes", "headers", "in_body", "parser",
                 "reused", "skip_message", "transport", "upstream")

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self.parser = HttpResponseParser(self)
        self.ex: Exchange | None = None
        self.closed = False
        self.reused = False
        self.got_bytes = False
        self.skip_message = False
        self.headers = ResponseHeaders()  # the current response's head, as it is parsed
        self.in_body = False  # between a head and the end of its message
        self.after_feed: Upstream | None = None  # release here once the current read is parsed
        self.fd = -1  # a duplicate of the socket, to read an early response after a reset

    # -- asyncio callbacks ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Once per connection, not per request: when a body write fails with a
            # reset, the event loop closes its fd at once, and a response the
            # instance sent before resetting (413 to an upload) would be lost.
            try:
                self.fd = os.dup(sock.fileno())
            except OSError:  # out of descriptors: serve on, without that early-answer copy
                self.fd = -1

    def data_received(self, data: bytes) -> None:
        ex = self.ex
        if ex is None:  # nothing asked: an idle connection must stay silent
            self.close()
            return
        self.got_bytes = True
        client = ex.client
        ex.activity = coarse.now
        try:
            self.parser.feed_data(data)
        except HttpParserError:
            if self.ex is not None:
                self.ex.upstream_bad(self)
        except HttpParserUpgrade as exc:  # after a 101 head: the rest is the new protocol's
            if self.ex is not None:
                offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
                self.ex.upstream_switched(self, data[offset:])
        if self.after_feed is not None:
            up, self.after_feed = self.after_feed, None
            self.parser = HttpResponseParser(self)
            self.in_body = False
            up.release(self)
        wbuf = client.wbuf
        if wbuf:
            if client.transport is not None:
                client.transport.write(wbuf[0] if len(wbuf) == 1 else b"".join(wbuf))
            wbuf.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ex = self.ex
        if ex is not None:
            client = ex.client
            if exc is not None and not ex.response_started:
                self._read_early_response()
            if self.ex is not None:
                self.ex.upstream_lost(self)
            client.flush()
        else:
            self.upstream.forget(self)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _read_early_response(self) -> None:
        """After a reset, parse what the instance sent before it (early response handling).

        An app that refuses an upload answers at once and closes with the body
        unread, so its kernel resets the connection; the gateway then fails a
        write, but the answer is still in the socket's receive queue. Reading
        it here turns a spurious 502 into the app's own response (nginx and
        Envoy do the same).
        """
        if self.fd < 0:
            return
        try:
            while self.ex is not None:
                data = os.read(self.fd, 65536)
                if not data:
                    break
                self.got_bytes = True
                self.parser.feed_data(data)
        except (OSError, HttpParserError, HttpParserUpgrade):
            pass

    def eof_received(self) -> bool:
        return False  # close our side too

    def pause_writing(self) -> None:
        if self.ex is not None:
            self.ex.client.pause(2)  # UPLOAD

    def resume_writing(self) -> None:
        if self.ex is not None:
            self.ex.client.resume(2)

    # -- parser callbacks ----------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_body:
            return  # a chunked body's trailer fields: dropped (RFC 9112 §7.1.2 allows it)
        headers = self.headers
        headers.add(name, value)
        if headers.size > MAX_RESPONSE_HEAD:
            raise HttpParserError("response head too large")  # -> upstream_bad: a 502

    def on_headers_complete(self) -> None:
        self.in_body = True  # until on_message_complete: any field now is a trailer
        status = self.parser.get_status_code()
        if status < 200:
            # 100 Continue, 103 Early Hints: the gateway answers those itself. 101: the
            # instance switched protocols (only an upgrade exchange takes that).
            self.skip_message = True
            if self.ex is not None:
                if status == 100:
                    self.ex.upstream_continue()
                elif status == 101:
                    self.ex.upstream_switching(self, self.headers)
            self.headers.reset()
            return
        if self.ex is not None:
            self.ex.response_head(self, status, self.headers)
        self.headers.reset()

    def on_body(self, body: bytes) -> None:
        ex = self.ex
        if ex is not None and ex.conn is self and ex.out_body:
            if ex.out_chunked:
                ex.client.wbuf += (b"%x\r\n" % len(body), body, b"\r\n")
            else:
                ex.client.wbuf.append(body)

    def on_message_complete(self) -> None:
        self.in_body = False
        if self.skip_message:
            self.skip_message = False
            return
        if self.ex is not None:
            self.ex.response_done(self)

    # -- used by the exchange and the pool --------------------------------------

    def keep_alive(self) -> bool:
        return not self.closed and self.parser.should_keep_alive()

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        self.ex = None
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def detach(self) -> asyncio.Transport | None:
        """Hand the transport over (after a 101 it carries a tunnel); this object is done."""
        transport, self.transport = self.transport, None
        self.ex = None
        self.closed = True
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        return transport
