"""A slow upload is the client's time, not the instance's (issue 10, item 12).

The pool's ``response_timeout`` (2 s in these tests) starts once the request
body has been sent upstream; a stalled body is the separate, named
``request_body_timeout`` (408). Both tests hold on what cannot race: the
upload below keeps sending a byte every 0.2 s, so however slow the machine,
no gap reaches ``request_body_timeout`` (30 s by default) while the upload as a
whole takes well over ``response_timeout``.
"""

from __future__ import annotations

import time

import pytest
from gwtest import Reader, connect, pool_toml


@pytest.fixture(scope="module")
def gw(backends, gateway):
    b = backends("slow-upload")
    return gateway(pool_toml(b.address, health_checks=False))


def test_an_honest_slow_upload_longer_than_the_response_timeout_gets_its_answer(gw) -> None:
    pieces = 20  # one every 0.2 s: at least 4 s in all, twice the response timeout
    with connect(gw.port, timeout=30) as s:
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % pieces)
        started = time.monotonic()
        for _ in range(pieces):
            time.sleep(0.2)
            s.sendall(b"x")
        assert time.monotonic() - started > 2.0  # longer than response_timeout
        r = Reader(s).response()
    assert r.status == 200, r.body
    assert r.json()["bytes"] == pieces


def test_a_slow_chunked_upload_gets_its_answer_too(gw) -> None:
    with connect(gw.port, timeout=30) as s:
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(16):
            time.sleep(0.2)
            s.sendall(b"1\r\ny\r\n")
        s.sendall(b"0\r\n\r\n")
        r = Reader(s).response()
    assert r.status == 200 and r.json()["bytes"] == 16
