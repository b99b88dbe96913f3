"""Bodies stream through with flow control: 200 MiB each way must not grow the gateway's memory."""

from __future__ import annotations

import time

import pytest
from gwtest import Reader, connect, peak_rss, pool_toml

MIB = 1024 * 1024
SIZE = 200 * MIB
ALLOWED_GROWTH = 24 * MIB  # "a few MiB" plus allocator slack on a busy machine


@pytest.fixture(scope="module")
def gw(backends, gateway):
    b = backends("big")
    g = gateway(pool_toml(b.address, max_body_bytes=1 << 40, response_timeout=10.0,
                          health_checks=False))
    with connect(g.port) as s:  # warm up: first request, first upstream connection
        s.sendall(b"GET /download?n=1000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        Reader(s).response()
    return g


@pytest.mark.slow
def test_a_200_mib_upload_streams_with_bounded_memory(gw) -> None:
    before = peak_rss(gw.proc.pid)
    block = b"u" * MIB
    with connect(gw.port, timeout=60) as s:
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % SIZE)
        for _ in range(SIZE // MIB):
            s.sendall(block)
        r = Reader(s).response()
    assert r.status == 200 and r.json()["bytes"] == SIZE
    assert peak_rss(gw.proc.pid) - before < ALLOWED_GROWTH


@pytest.mark.slow
def test_a_200_mib_chunked_upload_streams_with_bounded_memory(gw) -> None:
    before = peak_rss(gw.proc.pid)
    chunk = b"%x\r\n%s\r\n" % (MIB, b"c" * MIB)
    with connect(gw.port, timeout=60) as s:
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(SIZE // MIB):
            s.sendall(chunk)
        s.sendall(b"0\r\n\r\n")
        r = Reader(s).response()
    assert r.status == 200 and r.json()["bytes"] == SIZE
    assert peak_rss(gw.proc.pid) - before < ALLOWED_GROWTH


@pytest.mark.slow
def test_a_200_mib_download_to_a_slow_reader_streams_with_bounded_memory(gw) -> None:
    before = peak_rss(gw.proc.pid)
    with connect(gw.port, timeout=60) as s:
        s.sendall(b"GET /download?n=%d HTTP/1.1\r\nHost: t\r\n\r\n" % SIZE)
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(65536)
        received = len(head.split(b"\r\n\r\n", 1)[1])
        time.sleep(1.0)  # a slow reader: the gateway must stop reading from the instance
        assert peak_rss(gw.proc.pid) - before < ALLOWED_GROWTH
        while received < SIZE:
            data = s.recv(4 * MIB)
            assert data
            received += len(data)
    assert received == SIZE
    assert peak_rss(gw.proc.pid) - before < ALLOWED_GROWTH
