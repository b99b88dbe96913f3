"""HTTP Upgrade (WebSocket): the handshake goes through, then the gateway is a byte pipe.

The backend's ``/ws`` answers 101 and echoes raw bytes (no WebSocket framing:
the gateway never looks inside a tunnel), ``/ws-refuse`` answers 426, and
``x-conn`` tells which upstream connection carried a request. A real
WebSocket round trip runs too when the ``websockets`` library is installed.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from gwtest import (
    Proc,
    Reader,
    Response,
    admin,
    connect,
    free_port,
    get,
    peak_rss,
    pool_toml,
    wait_port,
    wait_until,
)

MIB = 1024 * 1024
UPGRADE = b"Connection: Upgrade\r\nUpgrade: websocket\r\n"


def gateway_toml(*addresses: str, gateway: dict[str, object] | None = None,
                 **pool: object) -> str:
    """``pool_toml`` plus ``[gateway]`` keys; no health checks (connection counts stay exact)."""
    text = pool_toml(*addresses, health_checks=False, **pool)
    for key, value in (gateway or {}).items():
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key} =")]
        lines.insert(lines.index("[gateway]") + 1, f"{key} = {json.dumps(value)}")
        text = "\n".join(lines) + "\n"
    return text


@pytest.fixture(scope="module")
def ws(backends):
    return backends("ws")


@pytest.fixture(scope="module")
def gw(ws, gateway) -> Proc:
    return gateway(gateway_toml(ws.address))


def open_tunnel(port: int, target: str = "/ws", extra: bytes = b"",
                headers: bytes = UPGRADE) -> tuple[object, Reader, Response]:
    """Send an upgrade request (and ``extra`` in the same packet); read the 101 head."""
    s = connect(port)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\n".encode() + headers + b"\r\n" + extra)
    reader = Reader(s)
    return s, reader, reader.response(head_only=True)


def read_exact(reader: Reader, n: int) -> bytes:
    return reader._exact(n)


def read_line(reader: Reader) -> bytes:
    while b"\n" not in reader.buf:
        assert reader._fill(), "closed before a line"
    line, reader.buf = reader.buf.split(b"\n", 1)
    return line


def ws_seen_closed(backend: Proc) -> int:
    """Tunnels the backend saw end (EOF from the gateway), asked of the backend directly."""
    return get(backend.port, "/seen?path=/ws&done=1").json()


def pool_stats(port: int) -> dict:
    return admin(port, "GET", "/_stateline/stats").json()["pools"]["apps"]


# -- the handshake and the pipe -------------------------------------------------------------


def test_the_tunnel_echoes_and_loses_no_bytes_sent_with_either_head(gw, ws) -> None:
    headers = (b"Connection: keep-alive, Upgrade, X-Private\r\nUpgrade: websocket\r\n"
               b"X-Private: secret\r\nKeep-Alive: 5\r\nProxy-Authorization: Basic eA==\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               b"X-Request-ID: my-id-1\r\n")
    s, reader, r = open_tunnel(gw.port, "/ws?show=1&greet=hello", extra=b"EARLY", headers=headers)
    with s:
        assert r.status == 101
        assert r.headers["upgrade"] == "websocket" and r.headers["connection"] == "upgrade"
        assert r.headers["x-served-by"] == ws.address and r.headers["x-request-id"] == "my-id-1"
        assert r.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        seen = dict(json.loads(read_line(reader))["headers"])  # sent with the 101 head
        assert seen["connection"] == "upgrade" and seen["upgrade"] == "websocket"
        assert seen["x-forwarded-for"] == "127.0.0.1" and seen["x-request-id"] == "my-id-1"
        assert seen["sec-websocket-key"] == "dGhlIHNhbXBsZSBub25jZQ=="
        for hop in ("x-private", "keep-alive", "proxy-authorization"):
            assert hop not in seen
        # "hello" came in the instance's read with the 101 head; "EARLY" in the client's
        # packet with the request head: both reach the other side
        assert read_exact(reader, len(b"helloEARLY")) == b"helloEARLY"
        for i in range(20):
            msg = b"message %d " % i * (i + 1)
            s.sendall(msg)
            assert read_exact(reader, len(msg)) == msg


def test_an_upgrade_pipelined_behind_a_request_is_answered_in_order(gw) -> None:
    s = connect(gw.port)
    with s:
        s.sendall(b"GET /conn HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /ws HTTP/1.1\r\nHost: t\r\n" + UPGRADE + b"\r\nafter")
        reader = Reader(s)
        assert reader.response().status == 200
        assert reader.response(head_only=True).status == 101
        assert read_exact(reader, 5) == b"after"


def test_the_client_closing_closes_the_upstream_side(gw, ws) -> None:
    before = ws_seen_closed(ws)
    s, reader, r = open_tunnel(gw.port)
    assert r.status == 101
    s.sendall(b"x")
    assert read_exact(reader, 1) == b"x"
    s.close()
    assert wait_until(lambda: ws_seen_closed(ws) == before + 1, 3.0)


def test_a_client_half_close_still_gets_the_rest_of_the_answer(gw) -> None:
    """EOF from the client goes on as EOF (not a close): the echo still comes back."""
    s, reader, r = open_tunnel(gw.port)
    with s:
        assert r.status == 101
        s.sendall(b"PAYLOAD")
        s.shutdown(socket.SHUT_WR)
        assert read_exact(reader, 7) == b"PAYLOAD"
        assert reader.closed()  # the instance ended too: both directions are done


def test_a_client_gone_before_the_switch_is_noticed_and_no_tunnel_opens(gateway, ws) -> None:
    """A client that gives up while a slow instance decides: no tunnel, no upgrade counted."""
    g = gateway(gateway_toml(ws.address))
    s = connect(g.port)
    s.sendall(b"GET /ws?delay=600 HTTP/1.1\r\nHost: t\r\n" + UPGRADE + b"\r\n")
    time.sleep(0.1)
    s.close()
    time.sleep(1.0)  # the instance has answered 101 by now
    stats = pool_stats(g.port)
    assert stats["upgrades"] == 0 and stats["tunnels_open"] == 0


def test_the_upstream_closing_closes_the_client_after_its_last_bytes(gw) -> None:
    s, reader, r = open_tunnel(gw.port, "/ws?bye=1")
    with s:
        assert r.status == 101
        assert reader.closed()
        assert reader.buf == b"bye"


def test_metrics_and_stats_count_upgrades_and_open_tunnels(gateway, ws) -> None:
    g = gateway(gateway_toml(ws.address))
    s, _, r = open_tunnel(g.port)
    assert r.status == 101
    stats = admin(g.port, "GET", "/_stateline/stats").json()
    assert stats["tunnels"] == 1
    assert stats["pools"]["apps"]["upgrades"] == 1 and stats["pools"]["apps"]["tunnels_open"] == 1
    text = get(g.port, "/_stateline/metrics").body.decode()
    assert any(ln.startswith("stateline_gateway_upgrades_total{") and ln.endswith(" 1")
               for ln in text.splitlines())
    assert any(ln.startswith("stateline_gateway_tunnels_open{") and ln.endswith(" 1")
               for ln in text.splitlines())
    s.close()
    assert wait_until(lambda: pool_stats(g.port)["tunnels_open"] == 0, 3.0)
    assert pool_stats(g.port)["upgrades"] == 1
    assert pool_stats(g.port)["by_status_class"]["1xx"] == 1  # the 101 is the request's answer


# -- connections -----------------------------------------------------------------------


def test_an_upgrade_takes_a_fresh_upstream_connection_and_never_pools_it(gw) -> None:
    with connect(gw.port) as s:
        reader = Reader(s)
        s.sendall(b"GET /conn HTTP/1.1\r\nHost: t\r\n\r\n")
        idle = reader.response().headers["x-conn"]  # this upstream connection is now idle
        s.sendall(b"GET /ws-refuse HTTP/1.1\r\nHost: t\r\n" + UPGRADE + b"\r\n")
        refused = reader.response()
        assert refused.status == 426 and refused.headers["x-conn"] != idle
        s.sendall(b"GET /conn HTTP/1.1\r\nHost: t\r\n\r\n")
        # LIFO idle list: had the refused upgrade's connection been pooled, it would be next
        assert reader.response().headers["x-conn"] == idle
    s, reader, r = open_tunnel(gw.port)
    with s:
        assert r.status == 101 and r.headers["x-conn"] != idle


def test_a_refused_upgrade_is_an_ordinary_response_and_http_goes_on(gw) -> None:
    with connect(gw.port) as s:
        # what follows the head in the same packet is parsed as the next request
        s.sendall(b"GET /ws-refuse HTTP/1.1\r\nHost: t\r\n" + UPGRADE + b"\r\n"
                  b"GET /conn HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        r = reader.response()
        assert r.status == 426 and r.json() == {"error": "upgrade refused"}
        assert "upgrade" not in r.headers and r.headers.get("connection") != "close"
        assert reader.response().status == 200
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: t\r\n" + UPGRADE + b"\r\n")
        assert reader.response(head_only=True).status == 101  # and may still upgrade
        s.sendall(b"ping")
        assert read_exact(reader, 4) == b"ping"


def test_a_switch_to_a_protocol_the_client_did_not_ask_for_is_a_502(gw) -> None:
    with connect(gw.port) as s:
        s.sendall(b"GET /ws?proto=h2c HTTP/1.1\r\nHost: t\r\n" + UPGRADE + b"\r\n")
        reader = Reader(s)
        r = reader.response()
        assert r.status == 502 and r.json()["error"]["code"] == "bad_upstream_response"
        s.sendall(b"GET /conn HTTP/1.1\r\nHost: t\r\n\r\n")  # no upgrade: HTTP goes on
        assert reader.response().status == 200


def test_an_upgrade_is_not_retried_once_sent_but_a_connect_failure_is(backends, gateway) -> None:
    a, b = backends("drop-a"), backends("drop-b")
    g = gateway(gateway_toml(a.address, b.address, retries=2))
    with connect(g.port) as s:
        s.sendall(b"GET /ws-drop HTTP/1.1\r\nHost: t\r\n" + UPGRADE + b"\r\n")
        r = Reader(s).response()
    assert r.status == 502 and r.json()["error"]["code"] == "upstream_reset"
    seen = sum(get(p.port, "/seen?path=/ws-drop").json() for p in (a, b))
    assert seen == 1  # a GET, retries left, another instance: still sent once only

    good = backends("good")
    dead = f"127.0.0.1:{free_port()}"
    g2 = gateway(gateway_toml(dead, good.address, retries=1))
    for _ in range(4):  # round robin starts on either; the dead one is retried elsewhere
        s, _, r = open_tunnel(g2.port)
        s.close()
        assert r.status == 101 and r.headers["x-served-by"] == good.address


# -- not tunnelled -------------------------------------------------------------------------


def test_h2c_is_never_tunnelled_and_is_served_as_http11(gw) -> None:
    with connect(gw.port) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
                  b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                  b"GET /conn HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        r = reader.response()
        assert r.status == 200
        names = {n for n, _ in r.json()["headers"]}
        assert not names & {"upgrade", "connection", "http2-settings"}
        r = reader.response()  # /ws never heard of an upgrade: its plain answer
        assert r.status == 200 and r.json()["path"] == "/ws"
        assert reader.response().status == 200  # the bytes after each head were HTTP


@pytest.mark.parametrize("headers", [
    b"Upgrade: websocket\r\n",  # no Connection: upgrade
    b"Connection: Upgrade\r\nUpgrade: HTTP/2.0\r\n",
    b"Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n",
])
def test_no_tunnel_without_connection_upgrade_or_for_another_http(gw, headers: bytes) -> None:
    with connect(gw.port) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n")
        r = Reader(s).response()
        assert r.status == 200 and r.json()["path"] == "/ws"


def test_an_http10_upgrade_is_served_as_plain_http(gw) -> None:
    with connect(gw.port) as s:
        s.sendall(b"GET /ws HTTP/1.0\r\nHost: t\r\n" + UPGRADE + b"\r\n")
        r = Reader(s).response()
        assert r.status == 200 and r.json()["path"] == "/ws"


@pytest.mark.parametrize("body", [b"Content-Length: 5\r\n\r\nhello",
                                  b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"])
def test_an_upgrade_request_with_a_body_is_refused(gw, body: bytes) -> None:
    with connect(gw.port) as s:
        s.sendall(b"POST /ws HTTP/1.1\r\nHost: t\r\n" + UPGRADE + body)
        reader = Reader(s)
        r = reader.response()
        assert r.status == 400 and r.json()["error"]["code"] == "upgrade_with_body"
        assert reader.closed()


def test_an_upgrade_with_content_length_zero_is_tunnelled(gw) -> None:
    s, reader, r = open_tunnel(gw.port, headers=UPGRADE + b"Content-Length: 0\r\n")
    with s:
        assert r.status == 101
        s.sendall(b"ok")
        assert read_exact(reader, 2) == b"ok"


# -- timeouts, shutdown, volume -----------------------------------------------------------


def test_an_idle_tunnel_is_closed_after_tunnel_idle_timeout(gateway, ws) -> None:
    g = gateway(gateway_toml(ws.address, gateway={"tunnel_idle_timeout": 1.0}))
    before = ws_seen_closed(ws)
    s, reader, r = open_tunnel(g.port)
    with s:
        assert r.status == 101
        for _ in range(6):  # 1.8 s of traffic every 0.3 s: busy, not idle
            time.sleep(0.3)
            s.sendall(b".")
            assert read_exact(reader, 1) == b"."
        started = time.monotonic()
        assert reader.closed(timeout=4.0)
        assert 0.5 < time.monotonic() - started < 3.0
    assert wait_until(lambda: ws_seen_closed(ws) == before + 1, 3.0)


def test_shutdown_keeps_tunnels_through_the_grace_then_closes_them(gateway, ws) -> None:
    g = gateway(gateway_toml(ws.address, gateway={"shutdown_grace": 1.5}))
    s, reader, r = open_tunnel(g.port)
    with s:
        assert r.status == 101
        started = time.monotonic()
        g.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        s.sendall(b"still here")  # draining: the tunnel still works
        assert read_exact(reader, 10) == b"still here"
        assert reader.closed(timeout=4.0)
        assert 1.2 < time.monotonic() - started < 4.0
    assert g.proc.wait(10) == 0


@pytest.mark.slow
def test_a_large_transfer_both_ways_keeps_gateway_memory_bounded(gateway, ws) -> None:
    """64 MiB up and echoed down, with a stalled reader: flow control, not buffering.

    More than the four sockets' kernel buffers on the way can hold, so a
    gateway that did not pause reading would have to keep tens of MiB itself.
    """
    size = 64 * MIB
    g = gateway(gateway_toml(ws.address))
    s, reader, r = open_tunnel(g.port)
    assert r.status == 101
    s.settimeout(60)
    before = peak_rss(g.proc.pid)
    block = bytes(range(256)) * 4096  # 1 MiB

    def send() -> None:
        for _ in range(size // MIB):
            s.sendall(block)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    time.sleep(1.5)  # the client reads nothing yet: every buffer on the way fills up
    assert peak_rss(g.proc.pid) - before < 16 * MIB
    received = len(reader.buf)
    reader.buf = b""
    while received < size:
        data = s.recv(4 * MIB)
        assert data
        received += len(data)
    sender.join(30)
    s.close()
    assert received == size
    assert peak_rss(g.proc.pid) - before < 16 * MIB


# -- a real WebSocket client and server ------------------------------------------------------

WS_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main(port):
    async with serve(echo, "127.0.0.1", port, max_size=None):
        await asyncio.get_running_loop().create_future()

asyncio.run(main(int(sys.argv[1])))
"""


def test_a_real_websocket_round_trip(gateway, tmp_path) -> None:
    pytest.importorskip("websockets")
    from websockets.sync.client import connect as ws_connect

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", WS_SERVER, str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        g = gateway(gateway_toml(f"127.0.0.1:{port}"))
        with ws_connect(f"ws://127.0.0.1:{g.port}/chat", max_size=None) as conn:
            conn.send("hello")
            assert conn.recv() == "hello"
            big = bytes(range(256)) * 4096
            conn.send(big)
            assert conn.recv() == big
            assert conn.response.headers["x-served-by"] == f"127.0.0.1:{port}"
    finally:
        server.kill()
        server.wait(5)
