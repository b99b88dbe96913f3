"""HTTP Upgrade (WebSocket and the like): the handshake through the gateway, then a byte pipe.

A WebSocket starts as an HTTP/1.1 request (``Connection: upgrade``,
``Upgrade: websocket``); when the app answers ``101 Switching Protocols`` the
connection stops being HTTP. A proxy cannot parse what follows, so it glues
the two connections together and copies bytes, as nginx, HAProxy and Envoy do.
The life of one upgrade:

    client head, Connection lists upgrade, Upgrade: P   (HTTP/1.1, no body, P not h2c)
      → UpgradeExchange: forwarded with Connection: upgrade and Upgrade: P kept,
        on a fresh upstream connection that is never pooled afterwards
      → the client's parser stops at the end of the head; what the client sends
        next is parked (reading pauses past PARK_LIMIT) until the instance has decided
    instance answers 101  → the client gets the 101 head, and both transports go to
                            a Tunnel: parked bytes go up, bytes after the 101 head down
    instance answers else → an ordinary response; the client connection goes on as
                            HTTP/1.1 and the parked bytes are parsed as its next request

A :class:`Tunnel` copies bytes as they arrive, with flow control both ways (a
side whose socket is full stops the other side's reading), so memory stays
bounded whatever the two peers do. A half-close (EOF) is passed on to the
other side, whose answer still flows back. The tunnel ends when both sides
have sent EOF or either side closes (the other is closed after what it was
sent is flushed), after ``tunnel_idle_timeout`` without a byte either way, or
when a stopping gateway's grace runs out.

The ordinary request path pays nothing for this: an upgrade is recognised in
the branch that already handles Connection headers, the upgrade logic is a
subclass, and a tunnel's connections leave the HTTP protocols altogether
(``transport.set_protocol``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from httptools import HttpParserUpgrade

from stateline.gateway.clock import coarse
from stateline.gateway.headers import connection_tokens
from stateline.gateway.proxy import Exchange
from stateline.gateway.retry import Failure

if TYPE_CHECKING:
    from stateline.gateway.client_protocol import ClientProtocol
    from stateline.gateway.framing import BodyFraming
    from stateline.gateway.headers import ResponseHeaders
    from stateline.gateway.metrics import PoolMetrics
    from stateline.gateway.routes import Route
    from stateline.gateway.server import Gateway
    from stateline.gateway.upstream import Upstream
    from stateline.gateway.upstream_protocol import UpstreamConnection

#: Protocols never tunnelled: HTTP again inside a tunnel (h2c, HTTP/2.0, or
#: RFC 2817's TLS/1.0, which carries HTTP/1.1) would carry requests past the
#: gateway's routing, limits and framing checks (the known h2c smuggling
#: through proxies). Such requests are served as plain HTTP/1.1.
NEVER_TUNNELLED = frozenset({b"h2c", b"h2", b"http", b"tls"})
FLUSH_GRACE = 5.0  # seconds a closing tunnel may take to flush before it is reset
PARK_LIMIT = 64 * 1024  # bytes a client may send before the instance's answer; then reading pauses

_UPLOAD = 2  # ClientProtocol pause reasons (client_protocol.py)
_DOWNLOAD = 8
_UPGRADE = 16


# -- decisions (pure) ----------------------------------------------------------------


def upgrade_protocols(value: bytes) -> list[bytes]:
    """The protocols an Upgrade value names, lower case (``websocket``, ``foo/2``)."""
    return [p for p in (t.strip(b" \t").lower() for t in value.split(b",")) if p]


def _names(value: bytes) -> set[bytes]:
    return {p.split(b"/", 1)[0] for p in upgrade_protocols(value)}


def wants_upgrade(headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
    """The Upgrade value to forward if this request may become a tunnel, else None.

    Upgrade is hop-by-hop and means something only when a Connection header
    lists ``upgrade`` (RFC 9110 §7.8). HTTP again (h2c, HTTP/2.0, TLS/1.0)
    is never tunnelled: see ``NEVER_TUNNELLED``; such a request is served as
    plain HTTP/1.1 with the header dropped, as if no upgrade had been asked.
    The caller checks the rest: HTTP/1.1 only, and no body (framing.py
    refuses an upgrade request with one).
    """
    if b"upgrade" not in connection_tokens(headers):
        return None
    value = b", ".join(v.strip(b" \t") for n, v in headers if n == b"upgrade" and v.strip(b" \t"))
    names = _names(value)
    if not names or names & NEVER_TUNNELLED:
        return None
    return value


def agreed(asked: bytes, answered: bytes) -> bool:
    """Whether a 101's Upgrade names only protocols the client asked for (RFC 9110 §7.8).

    An instance switching to anything else (or to nothing) is not relayed: the
    client could not speak it, and it could be a protocol the gateway refuses
    to tunnel.
    """
    got = _names(answered)
    return bool(got) and got <= _names(asked)


def upgrade_request_head(head: bytes, protocols: bytes) -> bytes:
    """The upstream head from ``headers.request_head`` (which drops Upgrade) asking again.

    Only the upgrade itself goes on: every other hop-by-hop header stays dropped.
    """
    return head[:-2] + b"connection: upgrade\r\nupgrade: " + protocols + b"\r\n\r\n"


def switching_head(head: bytes, upgrade: bytes) -> bytes:
    """The 101 head for the client: ``head`` from ``ResponseHeaders.head`` with the upgrade kept.

    ``ResponseHeaders`` drops every hop-by-hop field (and those Connection
    names); only the upgrade itself goes back on, as it came from the instance.
    """
    return head[:-2] + b"connection: upgrade\r\nupgrade: " + upgrade + b"\r\n\r\n"


# -- the handshake -----------------------------------------------------------------------


class _Parked:
    """Stands in for a client's request parser while its upgrade waits for the instance.

    What a client sends after an upgrade request's head belongs to the new
    protocol if the instance agrees, and is the next HTTP request if not: it
    must not be parsed until then. Reading is paused meanwhile; should bytes
    arrive regardless, this raises what llhttp raises at an upgrade, so that
    ``ClientProtocol.data_received`` parks them with the rest.
    """

    def feed_data(self, data: bytes) -> None:
        raise HttpParserUpgrade(0)


PARKED = _Parked()


class UpgradeExchange(Exchange):
    """A request that asks to switch protocols (see :func:`wants_upgrade`).

    It differs from a plain :class:`~stateline.gateway.proxy.Exchange` on purpose:

    - Always a fresh upstream connection, and never pooled afterwards: the
      instance may have switched (or half-switched) the connection, and a
      tunnel lasts long enough that saving one connect buys nothing.
    - Retried only after a connect failure: once the head was sent the app
      may have started the new protocol, and a tunnel is not idempotent.
    - A 101 ends the exchange and starts a :class:`Tunnel`; any other answer
      is relayed as usual, and the client connection goes on as HTTP/1.1.
    """

    def __init__(self, client: ClientProtocol, route: Route, method: bytes, head: bytes,
                 request_id: bytes, framing: BodyFraming, keep_alive: bool, key: bytes | None,
                 expect_continue: bool, idempotent_key: bool, protocols: bytes) -> None:
        super().__init__(client, route, method, upgrade_request_head(head, protocols),
                         request_id, framing, keep_alive, key, expect_continue, idempotent_key)
        self.protocols = protocols
        self.fresh_connection = True  # never an idle connection (and never pooled after)
        self.parked = b""  # what the client sent after the head, waiting for the decision
        self.holding = False  # the client's reading is paused for this exchange
        self.switching = False  # the 101 head went to the client; the tunnel comes next

    def hold(self, rest: bytes) -> bool:
        """The client's parser is at the end of this head: park what follows until decided.

        False when the exchange is already over (no instance could take it):
        then the upgrade did not happen and the bytes are plain HTTP.
        """
        if self.finished:
            return False
        client = self.client
        self.parked += rest
        client.in_head = False
        if not self.holding:
            self.holding = True
            client.parser = PARKED
        if len(self.parked) > PARK_LIMIT:
            # Reading goes on below the limit, so that a client that gives up while
            # the instance decides is noticed (its close aborts the upstream side).
            client.pause(_UPGRADE)
        return True

    # -- attempts: fresh connections, retried only when nothing was sent ------------

    def _may_retry(self, failure: Failure) -> bool:
        return failure is Failure.CONNECT_FAILED and super()._may_retry(failure)

    def _account(self, conn: UpstreamConnection) -> Upstream:
        conn.closed = True  # it carried an upgrade request: never back to the idle pool
        return super()._account(conn)

    # -- the instance's answer ---------------------------------------------------------

    def upstream_switching(self, conn: UpstreamConnection, headers: ResponseHeaders) -> None:
        """The instance answered 101: relay its head (the bytes after it follow)."""
        if conn is not self.conn or self.finished:
            return
        answered = b", ".join(headers.upgrade or ())
        if not agreed(self.protocols, answered):
            self.upstream_bad(conn)  # a switch the client did not ask for: 502
            return
        head = headers.head(101, conn.upstream.id_bytes, self.request_id, None, False, True,
                            False)
        self.client.wbuf.append(switching_head(head, answered))
        self.response_started = True
        self.status = 101
        self.switching = True

    def upstream_switched(self, conn: UpstreamConnection, rest: bytes) -> None:
        """The 101 head is parsed: both connections become a tunnel, nothing sent is lost."""
        if conn is not self.conn or not self.switching:
            super().upstream_switched(conn, rest)
            return
        client = self.client
        self.switching = self.holding = False
        parked, self.parked = self.parked, b""
        self._account(conn)
        upstream_transport = conn.detach()
        client.flush()  # the 101 head before any tunnel byte (it may find the socket full)
        client_paused = client.paused
        client_transport = client.detach()
        tunnel = Tunnel(client.gw, self.pool.metrics, client_transport, upstream_transport)
        self._finish()
        tunnel.start(parked, rest, client_full=bool(client_paused & _DOWNLOAD),
                     upstream_full=bool(client_paused & _UPLOAD))

    def _finish(self) -> None:
        if self.finished:
            return
        super()._finish()
        if self.holding:  # the instance did not switch: HTTP/1.1 goes on (or the client closed)
            self.holding = False
            parked, self.parked = self.parked, b""
            if self.client.transport is not None and not self.close_client:
                self.client.resume_http(parked)


# -- the pipe -------------------------------------------------------------------------


class _End:
    """One side of a tunnel: the asyncio protocol of its transport after the switch."""

    __slots__ = ("eof", "lost", "peer", "transport", "tunnel")

    def __init__(self, tunnel: Tunnel, transport: asyncio.Transport) -> None:
        self.tunnel = tunnel
        self.transport = transport
        self.peer: _End = self
        self.lost = False
        self.eof = False  # this side has sent its last byte (a half-close)

    def data_received(self, data: bytes) -> None:
        self.tunnel.last_active = coarse.now
        peer = self.peer.transport
        if not peer.is_closing():  # a closing side takes no more: the tunnel is ending
            peer.write(data)

    def eof_received(self) -> bool:
        """This side has sent its last byte: pass the half-close on, as TCP would.

        The other direction stays open (a client may shut down its sending side
        and still read the answer); once both sides have sent EOF, or when the
        peer cannot half-close, the tunnel ends.
        """
        self.eof = True
        peer = self.peer
        if peer.eof or peer.lost or peer.transport.is_closing() \
                or not peer.transport.can_write_eof():
            self.tunnel.closing()
            peer.close()
            return False  # and close this side too, once what it was sent is flushed
        peer.transport.write_eof()  # after what is already queued for the peer
        return True  # keep this transport open: it still carries the other direction

    def pause_writing(self) -> None:
        """This side's socket is full: stop reading the side that fills it."""
        if not self.peer.transport.is_closing():
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if not self.peer.transport.is_closing():
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.tunnel.closing()
        self.peer.close()
        self.tunnel.end_lost()

    def close(self) -> None:
        if not self.lost:
            self.transport.close()  # flushes what is queued first

    def abort(self) -> None:
        if not self.lost:
            self.transport.abort()


class Tunnel:
    """A client connection and an upstream connection glued together after a 101.

    Bytes are copied as they come; each side's reading is paused while the
    other side's socket is full (``pause_writing``/``resume_writing``), so
    the gateway holds at most a transport's buffer per direction.
    """

    def __init__(self, gw: Gateway, metrics: PoolMetrics, client: asyncio.Transport,
                 upstream: asyncio.Transport) -> None:
        self.gw = gw
        self.metrics = metrics
        self.client = _End(self, client)
        self.upstream = _End(self, upstream)
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.last_active = coarse.now
        self.closing_since = 0.0  # when either side closed (or the tunnel timed out)
        self.done = False
        metrics.upgrades += 1
        metrics.tunnels_open += 1
        gw.tunnels.add(self)

    def start(self, parked: bytes, rest: bytes, *, client_full: bool = False,
              upstream_full: bool = False) -> None:
        """Take both transports over, and send what either side sent before the switch.

        ``client_full``/``upstream_full``: that side's socket was already full
        (its transport will tell us when it drains), so the other side's
        reading stays paused until then.
        """
        client, upstream = self.client.transport, self.upstream.transport
        client.set_protocol(self.client)  # type: ignore[arg-type]
        upstream.set_protocol(self.upstream)  # type: ignore[arg-type]
        if upstream_full:
            client.pause_reading()
        else:
            client.resume_reading()  # it was paused while the instance decided
        if client_full:
            upstream.pause_reading()
        else:
            upstream.resume_reading()
        if parked:
            self.client.data_received(parked)
        if rest:
            self.upstream.data_received(rest)

    def closing(self) -> None:
        if not self.closing_since:
            self.closing_since = coarse.now

    def close(self) -> None:
        """Close both sides, each after flushing what it was sent."""
        self.closing()
        self.client.close()
        self.upstream.close()

    def end_lost(self) -> None:
        if self.client.lost and self.upstream.lost and not self.done:
            self.done = True
            self.metrics.tunnels_open -= 1
            self.gw.tunnels.discard(self)

    def check_timeouts(self, now: float) -> None:
        """Called by the gateway's sweep: idle tunnels close, stuck closes are reset."""
        if self.closing_since:
            if now - self.closing_since > FLUSH_GRACE:  # a peer that never reads its last bytes
                self.client.abort()
                self.upstream.abort()
        elif now - self.last_active > self.gw.config.tunnel_idle_timeout:
            self.close()
