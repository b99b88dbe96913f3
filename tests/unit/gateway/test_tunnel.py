"""Upgrades: when a request may become a tunnel, the heads either way, and the pipe's states.

The decisions are pure functions; the pipe is driven here with in-memory
transports (no sockets), the way the h11 tests drive its state machine.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from stateline.gateway.clock import coarse
from stateline.gateway.config import load
from stateline.gateway.framing import NO_BODY, FramingError, request_body_framing
from stateline.gateway.headers import ResponseHeaders, request_head
from stateline.gateway.metrics import PoolMetrics
from stateline.gateway.server import Gateway
from stateline.gateway.tunnel import (
    FLUSH_GRACE,
    PARK_LIMIT,
    PARKED,
    Tunnel,
    UpgradeExchange,
    agreed,
    switching_head,
    upgrade_protocols,
    upgrade_request_head,
    wants_upgrade,
)
from stateline.local.procs import free_port

WS = [(b"host", b"h"), (b"connection", b"Upgrade"), (b"upgrade", b"websocket")]


# -- wants_upgrade ---------------------------------------------------------------------


def test_connection_upgrade_with_an_upgrade_header_asks_for_a_tunnel() -> None:
    assert wants_upgrade(WS) == b"websocket"


@pytest.mark.parametrize("connection", [b"keep-alive, Upgrade", b"UPGRADE", b"x, upgrade ,y"])
def test_the_upgrade_token_may_be_anywhere_in_connection_in_any_case(connection: bytes) -> None:
    assert wants_upgrade([(b"connection", connection), (b"upgrade", b"websocket")]) \
        == b"websocket"


def test_upgrade_in_a_second_connection_header_counts() -> None:
    headers = [(b"connection", b"keep-alive"), (b"connection", b"upgrade"),
               (b"upgrade", b"websocket")]
    assert wants_upgrade(headers) == b"websocket"


@pytest.mark.parametrize("headers", [
    [(b"upgrade", b"websocket")],  # Upgrade alone means nothing (hop-by-hop, not listed)
    [(b"connection", b"upgradex"), (b"upgrade", b"websocket")],
    [(b"connection", b"upgrade")],  # nothing to upgrade to
    [(b"connection", b"upgrade"), (b"upgrade", b"  ")],
])
def test_no_tunnel_without_both_halves_of_the_request(headers) -> None:
    assert wants_upgrade(headers) is None


@pytest.mark.parametrize("value", [b"h2c", b"H2C", b"websocket, h2c", b"HTTP/2.0", b"h2",
                                   b"http/3", b"TLS/1.0"])
def test_another_http_version_is_never_tunnelled(value: bytes) -> None:
    assert wants_upgrade([(b"connection", b"Upgrade, HTTP2-Settings"), (b"upgrade", value)]) \
        is None


def test_several_upgrade_headers_are_joined() -> None:
    headers = [(b"connection", b"upgrade"), (b"upgrade", b"foo/2"), (b"upgrade", b" websocket ")]
    assert wants_upgrade(headers) == b"foo/2, websocket"
    assert upgrade_protocols(b"foo/2, websocket") == [b"foo/2", b"websocket"]


# -- agreement and heads ----------------------------------------------------------------


@pytest.mark.parametrize(("asked", "answered", "ok"), [
    (b"websocket", b"websocket", True),
    (b"websocket", b"WebSocket", True),
    (b"foo/2, websocket", b"websocket", True),
    (b"foo/2", b"foo/3", True),  # the name decides; versions are the app's business
    (b"websocket", b"h2c", False),
    (b"websocket", b"", False),
    (b"websocket", b"websocket, h2c", False),
])
def test_a_101_may_only_switch_to_what_the_client_asked_for(asked: bytes, answered: bytes,
                                                            ok: bool) -> None:
    assert agreed(asked, answered) is ok


def test_the_upstream_head_asks_for_the_upgrade_and_keeps_other_hop_by_hop_out() -> None:
    headers = [*WS, (b"keep-alive", b"5"), (b"sec-websocket-key", b"k")]
    head, rid = request_head(b"GET", b"/ws", headers, b"h", b"10.0.0.1", b"http", NO_BODY, True)
    out = upgrade_request_head(head, b"websocket")
    assert out.endswith(b"\r\n\r\n") and out.count(b"\r\n\r\n") == 1
    lines = out[:-4].split(b"\r\n")
    assert lines[0] == b"GET /ws HTTP/1.1"
    fields = [tuple(line.split(b": ", 1)) for line in lines[1:]]
    assert (b"connection", b"upgrade") in fields and (b"upgrade", b"websocket") in fields
    assert (b"sec-websocket-key", b"k") in fields and (b"x-request-id", rid) in fields
    names = [f[0] for f in fields]
    assert b"keep-alive" not in names and names.count(b"connection") == 1


def _switch(headers: list[tuple[bytes, bytes]], served_by: bytes, rid: bytes) -> bytes:
    """The 101 head as UpgradeExchange.upstream_switching builds it."""
    collected = ResponseHeaders()
    for name, value in headers:
        collected.add(name, value)
    head = collected.head(101, served_by, rid, None, False, True, False)
    return switching_head(head, b", ".join(collected.upgrade or ()))


def test_the_101_head_keeps_upgrade_and_drops_other_hop_by_hop_headers() -> None:
    headers = [(b"upgrade", b"websocket"), (b"connection", b"Upgrade, X-Hop"), (b"x-hop", b"1"),
               (b"keep-alive", b"5"), (b"content-length", b"0"),
               (b"sec-websocket-accept", b"abc"), (b"x-served-by", b"spoof")]
    head = _switch(headers, b"app-1", b"rid-1")
    lines = head[:-4].split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 101 Switching Protocols"
    fields = [tuple(line.split(b": ", 1)) for line in lines[1:]]
    assert (b"connection", b"upgrade") in fields and (b"upgrade", b"websocket") in fields
    assert (b"sec-websocket-accept", b"abc") in fields
    assert (b"x-served-by", b"app-1") in fields and (b"x-request-id", b"rid-1") in fields
    names = [f[0] for f in fields]
    for gone in (b"x-hop", b"keep-alive", b"content-length"):
        assert gone not in names
    assert names.count(b"x-served-by") == 1 and names.count(b"connection") == 1


def test_the_101_head_keeps_the_instances_own_request_id() -> None:
    head = _switch([(b"upgrade", b"ws"), (b"x-request-id", b"mine")], b"a", b"rid")
    assert b"x-request-id: mine\r\n" in head and b"rid" not in head


# -- framing: an upgrade request has no body ----------------------------------------------


@pytest.mark.parametrize("body", [[(b"content-length", b"5")],
                                  [(b"transfer-encoding", b"chunked")]])
def test_an_upgrade_request_with_a_body_is_refused(body) -> None:
    with pytest.raises(FramingError) as err:
        request_body_framing([*WS, *body], "1.1", 1 << 20)
    assert err.value.status == 400 and err.value.code == "upgrade_with_body"


def test_an_upgrade_request_may_say_content_length_zero() -> None:
    assert request_body_framing([*WS, (b"content-length", b"0")], "1.1", 1 << 20) == NO_BODY


def test_a_body_with_upgrade_but_no_connection_upgrade_is_ordinary() -> None:
    headers = [(b"host", b"h"), (b"upgrade", b"websocket"), (b"content-length", b"5")]
    assert request_body_framing(headers, "1.1", 1 << 20).length == 5


# -- the pipe ---------------------------------------------------------------------------------


class Transport:
    """An in-memory transport: records writes and the reading state."""

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def __init__(self) -> None:
        self.protocol: object = None
        self.out: list[bytes] = []
        self.reading = False  # paused while the upgrade was decided
        self.closing = False
        self.aborted = False

    def set_protocol(self, protocol: object) -> None:
        self.protocol = protocol

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.out.append(b"<EOF>")

    def abort(self) -> None:
        self.closing = self.aborted = True


def make_tunnel(idle: float = 60.0) -> tuple[Tunnel, Transport, Transport, SimpleNamespace]:
    gw = SimpleNamespace(config=SimpleNamespace(tunnel_idle_timeout=idle), tunnels=set(),
                         metrics=PoolMetrics())
    client, upstream = Transport(), Transport()
    return Tunnel(gw, gw.metrics, client, upstream), client, upstream, gw  # type: ignore[arg-type]


def test_start_takes_both_transports_and_sends_what_came_before_the_switch() -> None:
    tunnel, client, upstream, gw = make_tunnel()
    tunnel.start(b"early", b"greeting")
    assert client.protocol is tunnel.client and upstream.protocol is tunnel.upstream
    assert upstream.out == [b"early"] and client.out == [b"greeting"]
    assert client.reading and upstream.reading
    assert gw.tunnels == {tunnel} and (gw.metrics.upgrades, gw.metrics.tunnels_open) == (1, 1)


def test_bytes_are_copied_each_way_as_they_come() -> None:
    tunnel, client, upstream, _ = make_tunnel()
    tunnel.start(b"", b"")
    tunnel.client.data_received(b"up")
    tunnel.upstream.data_received(b"down")
    assert upstream.out == [b"up"] and client.out == [b"down"]


def test_a_full_side_pauses_reading_the_other_until_it_drains() -> None:
    tunnel, client, upstream, _ = make_tunnel()
    tunnel.start(b"", b"")
    tunnel.client.pause_writing()  # the client reads slowly
    assert not upstream.reading and client.reading
    tunnel.client.resume_writing()
    assert upstream.reading
    tunnel.upstream.pause_writing()  # the instance reads slowly
    assert not client.reading and upstream.reading


def test_a_side_already_full_at_the_switch_keeps_the_other_paused() -> None:
    tunnel, client, upstream, _ = make_tunnel()
    tunnel.start(b"", b"", client_full=True)
    assert not upstream.reading and client.reading


def test_a_half_close_is_passed_on_and_the_answer_still_flows_back() -> None:
    tunnel, client, upstream, _ = make_tunnel()
    tunnel.start(b"", b"")
    tunnel.client.data_received(b"last words")
    assert tunnel.client.eof_received() is True  # keep the client's transport open
    assert upstream.out == [b"last words", b"<EOF>"] and not upstream.closing
    tunnel.upstream.data_received(b"reply")  # the other direction still carries bytes
    assert client.out == [b"reply"]
    assert tunnel.upstream.eof_received() is False  # both sides done: the tunnel ends
    assert client.closing


def test_a_close_on_one_side_closes_both_and_the_tunnel_ends_when_both_are_gone() -> None:
    tunnel, client, upstream, gw = make_tunnel()
    tunnel.start(b"", b"")
    upstream.close()  # the instance went away: its transport is closed...
    tunnel.upstream.connection_lost(None)  # ...and asyncio says so
    assert client.closing
    tunnel.client.data_received(b"late")  # toward a closing side: dropped, not buffered
    assert gw.tunnels == {tunnel}
    tunnel.client.connection_lost(None)
    assert gw.tunnels == set() and gw.metrics.tunnels_open == 0
    assert upstream.out == []


def test_an_idle_tunnel_closes_and_a_stuck_close_is_reset() -> None:
    tunnel, client, upstream, _ = make_tunnel(idle=10.0)
    tunnel.start(b"", b"")
    now = coarse.now
    tunnel.check_timeouts(now + 5)
    assert not client.closing
    tunnel.check_timeouts(now + 11)
    assert client.closing and upstream.closing and not client.aborted
    tunnel.check_timeouts(now + 11 + FLUSH_GRACE + 1)  # neither peer took its last bytes
    assert client.aborted and upstream.aborted


def test_traffic_keeps_a_tunnel_open() -> None:
    tunnel, client, _, _ = make_tunnel(idle=10.0)
    tunnel.start(b"", b"")
    tunnel.last_active = coarse.now - 8  # quiet for 8 s, then a byte
    tunnel.client.data_received(b"x")
    tunnel.check_timeouts(coarse.now + 5)  # 13 s after the quiet began, 5 after the byte
    assert not client.closing


# -- the client side of the handshake, in memory ----------------------------------------------


def test_an_upgrade_answered_at_once_leaves_what_follows_to_http() -> None:
    """No instance to ask (503, decided inside the parser's callback): no upgrade happened,
    so the bytes after the head are the next HTTP request, not parked tunnel bytes."""
    gw = Gateway(load('[pools.apps]\nbackends = ["127.0.0.1:9"]\n'))
    up = next(iter(gw.pools["apps"].members))
    gw.pools["apps"].health.eject(up, coarse.now)  # admin-ejected: not even panic routes to it
    client, transport = gw.protocol(), Transport()
    client.connection_made(transport)
    client.data_received(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\n"
                         b"Upgrade: websocket\r\n\r\nGET /_stateline/health HTTP/1.1\r\n"
                         b"Host: t\r\n\r\n")
    out = b"".join(transport.out)
    assert out.startswith(b"HTTP/1.1 503 ") and b"no_upstream" in out
    assert out.count(b"HTTP/1.1 200 OK") == 1 and b'"role":"gateway"' in out.replace(b" ", b"")
    assert client.paused == 0 and client.parser is not PARKED  # nothing parked, nothing paused


def test_bytes_after_the_head_wait_unparsed_and_become_http_when_no_switch_happens() -> None:
    health = b"GET /_stateline/health HTTP/1.1\r\nHost: t\r\n\r\n"

    async def scenario() -> bytes:
        gw = Gateway(load(f'[pools.apps]\nbackends = ["127.0.0.1:{free_port()}"]\n'))
        client, transport = gw.protocol(), Transport()
        client.connection_made(transport)
        client.data_received(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\n"
                             b"Upgrade: websocket\r\n\r\n" + health[:10])
        item = client.current
        assert isinstance(item, UpgradeExchange) and item.holding
        # reading goes on (so a client that leaves is noticed), its bytes parked unparsed
        assert client.parser is PARKED and not client.paused & 16
        client.data_received(health[10:])
        assert item.parked == health and transport.out == []
        for _ in range(100):  # nothing listens there: connect fails, 502, HTTP goes on
            await asyncio.sleep(0.01)
            if b"HTTP/1.1 200" in b"".join(transport.out):
                break
        assert client.paused == 0 and client.parser is not PARKED
        return b"".join(transport.out)

    out = asyncio.run(scenario())
    assert out.startswith(b"HTTP/1.1 502 ") and b"upstream_unreachable" in out
    assert out.count(b"HTTP/1.1 200 OK") == 1


def test_a_client_sending_much_before_the_switch_is_paused_past_the_park_limit() -> None:
    async def scenario() -> int:
        gw = Gateway(load(f'[pools.apps]\nbackends = ["127.0.0.1:{free_port()}"]\n'))
        client, transport = gw.protocol(), Transport()
        client.connection_made(transport)
        client.data_received(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\n"
                             b"Upgrade: websocket\r\n\r\n")
        assert not client.paused & 16
        client.data_received(b"x" * (PARK_LIMIT + 1))
        return client.paused

    assert asyncio.run(scenario()) & 16  # UPGRADE: reading paused until the instance decides
