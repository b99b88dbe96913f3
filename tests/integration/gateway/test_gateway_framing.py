"""Strict framing over real sockets: smuggling attempts get 400 + close, and reach no instance."""

from __future__ import annotations

import socket
import time

import pytest
from gwtest import Reader, connect, get, pool_toml, upstream_requests


@pytest.fixture(scope="module")
def gw(backends, gateway):
    b = backends("b1")
    return gateway(pool_toml(b.address, max_body_bytes=1000))


SMUGGLING = {
    "cl_and_te": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_and_cl": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Length: 4\r\n\r\n0\r\n\r\n",
    "duplicate_cl": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                    b"Content-Length: 3\r\n\r\nabc",
    "conflicting_cl": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                      b"Content-Length: 30\r\n\r\nabc",
    "cl_list": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc",
    "cl_sign": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc",
    "te_gzip_chunked": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked"
                       b"\r\n\r\n0\r\n\r\n",
    "te_unknown": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "te_twice": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_chunked_chunked": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked"
                          b"\r\n\r\n0\r\n\r\n",
    "te_http10": b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad_chunk_size": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"zz\r\nabc\r\n0\r\n\r\n",
    "chunk_size_overflow": b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    "obs_fold": b"GET /echo HTTP/1.1\r\nHost: t\r\nX-A: b\r\n folded\r\n\r\n",
    "space_before_colon": b"GET /echo HTTP/1.1\r\nHost: t\r\nContent-Length : 0\r\n\r\n",
    "bare_lf": b"GET /echo HTTP/1.1\nHost: t\n\n",
    "no_host": b"GET /echo HTTP/1.1\r\n\r\n",
    "two_hosts": b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    # llhttp ends an upgrade request at its head, and Proxy-Connection counts for it
    "proxy_connection_upgrade_with_body": b"POST /echo HTTP/1.1\r\nHost: t\r\n"
                                          b"Proxy-Connection: upgrade\r\nUpgrade: websocket\r\n"
                                          b"Content-Length: 3\r\n\r\nabc",
}


def send_and_read(port: int, raw: bytes) -> tuple[int, bool]:
    with connect(port) as s:
        s.sendall(raw)
        reader = Reader(s)
        r = reader.response()
        assert r.json()["error"]["code"]
        return r.status, reader.closed()


@pytest.mark.parametrize("case", sorted(SMUGGLING))
def test_ambiguous_framing_is_refused_closed_and_not_forwarded(gw, case: str) -> None:
    before = upstream_requests(gw.port)
    status, closed = send_and_read(gw.port, SMUGGLING[case] + b"GET /smuggled HTTP/1.1\r\n"
                                                              b"Host: t\r\n\r\n")
    assert (status, closed) == (400, True)
    assert upstream_requests(gw.port) == before


def test_a_bad_request_after_a_good_one_answers_both_in_order(gw) -> None:
    with connect(gw.port) as s:
        s.sendall(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLING["cl_and_te"])
        reader = Reader(s)
        assert reader.response().status == 200
        assert reader.response().status == 400
        assert reader.closed()


def test_headers_over_64k_get_431(gw) -> None:
    status, closed = send_and_read(gw.port, b"GET / HTTP/1.1\r\nHost: t\r\n"
                                   + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n")
    assert (status, closed) == (431, True)


def test_many_headers_over_64k_get_431(gw) -> None:
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(800))
    status, _ = send_and_read(gw.port, b"GET / HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n")
    assert status == 431


def test_a_target_over_8k_gets_414(gw) -> None:
    target = b"/" + b"a" * 9000
    status, closed = send_and_read(gw.port, b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (status, closed) == (414, True)


def test_a_declared_body_over_the_limit_gets_413_before_it_is_sent(gw) -> None:
    before = upstream_requests(gw.port)
    status, _ = send_and_read(gw.port, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000"
                                       b"\r\n\r\n")
    assert status == 413
    assert upstream_requests(gw.port) == before


def test_a_chunked_body_growing_over_the_limit_gets_413(gw) -> None:
    chunk = b"%x\r\n%s\r\n" % (600, b"x" * 600)
    with connect(gw.port) as s:
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + chunk + chunk)
        reader = Reader(s)
        assert reader.response().status == 413
        assert reader.closed()


def test_connect_method_is_refused(gw) -> None:
    status, _ = send_and_read(gw.port, b"CONNECT evil:443 HTTP/1.1\r\nHost: evil:443\r\n\r\n")
    assert status in (400, 405)


def test_a_slowloris_client_does_not_block_others_and_is_timed_out(gw) -> None:
    slow = connect(gw.port)
    slow.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
    try:
        started = time.monotonic()
        for _ in range(5):
            assert get(gw.port, "/fast").status == 200
        assert time.monotonic() - started < 2.0
        for _ in range(3):  # trickle header bytes: the head deadline still applies
            time.sleep(0.3)
            try:
                slow.sendall(b"X-A: b\r\n")
            except OSError:
                break
        reader = Reader(slow)
        slow.settimeout(5)
        assert reader.response().status == 408
        assert reader.closed()
    finally:
        slow.close()


def test_an_idle_connection_is_closed_after_the_idle_timeout(gw) -> None:
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.settimeout(10)
        started = time.monotonic()
        assert s.recv(10) == b""
        assert 2.0 <= time.monotonic() - started < 7.0


@pytest.mark.parametrize("target", [b"/echo", b"t:443", b"http://t/echo"])
def test_connect_is_refused_in_every_target_form(gw, target: bytes) -> None:
    """llhttp ends a CONNECT at its head whatever it declares: never forwarded."""
    before = upstream_requests(gw.port)
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    status, closed = send_and_read(gw.port, b"CONNECT " + target + b" HTTP/1.1\r\nHost: t\r\n"
                                   b"Content-Length: 35\r\n\r\n" + smuggled)
    assert (status, closed) == (405, True)
    assert upstream_requests(gw.port) == before


def test_endless_request_trailers_get_431(gw) -> None:
    """Trailer fields are dropped, but counted against the header limit (64 KiB)."""
    trailers = b"".join(b"X-T-%05d: %s\r\n" % (i, b"t" * 80) for i in range(800))  # ~74 kB
    status, closed = send_and_read(gw.port, b"POST /echo HTTP/1.1\r\nHost: t\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
                                   + trailers + b"\r\n")
    assert (status, closed) == (431, True)
