"""HTTP/1.1 through the gateway: keep-alive, pipelining, bodies, HEAD/204/304, HTTP/1.0."""

from __future__ import annotations

import pytest
from gwtest import Reader, connect, get, pool_toml, request


@pytest.fixture(scope="module")
def gw(backends, gateway):
    b = backends("b1")
    return gateway(pool_toml(b.address)), b


def test_a_proxied_response_names_its_instance_and_request(gw) -> None:
    g, b = gw
    r = get(g.port, "/echo", "X-Request-ID: req-42\r\nX-Forwarded-For: 10.1.1.1\r\n")
    assert r.status == 200
    assert r.headers["x-served-by"] == b.address
    assert r.headers["x-request-id"] == "req-42"
    seen = dict((k, v) for k, v in r.json()["headers"])
    assert seen["x-request-id"] == "req-42"
    assert seen["x-forwarded-for"] == "127.0.0.1"  # the client is no trusted proxy
    assert seen["x-forwarded-proto"] == "http"


def test_client_claims_about_the_path_are_not_passed_on(gw) -> None:
    """Forwarded, X-Served-By and an odd X-Request-ID from a client never reach the app."""
    g, _ = gw
    r = get(g.port, "/echo", "Forwarded: for=10.9.9.9;proto=https\r\nX-Served-By: forged\r\n"
                             "X-Forwarded-For: <script>, 1.1.1.1\r\n"
                             "X-Request-ID: " + "r" * 129 + "\r\n")
    names = [k for k, _ in r.json()["headers"]]
    seen = dict(r.json()["headers"])
    assert "forwarded" not in names and "x-served-by" not in names
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-request-id"] == r.headers["x-request-id"] != "r" * 129
    r = get(g.port, "/echo", "X-Request-ID: id with spaces\r\n")
    assert dict(r.json()["headers"])["x-request-id"] != "id with spaces"


def test_a_request_without_id_gets_one_created_and_passed_on(gw) -> None:
    g, _ = gw
    r = get(g.port, "/echo")
    seen = dict((k, v) for k, v in r.json()["headers"])
    assert r.headers["x-request-id"] == seen["x-request-id"] != ""


def test_hop_by_hop_headers_are_stripped_both_ways(gw) -> None:
    g, _ = gw
    r = get(g.port, "/echo", "Connection: keep-alive, X-Private\r\nX-Private: 1\r\n"
                             "Proxy-Authorization: Basic eA==\r\nKeep-Alive: 5\r\n")
    names = {k for k, _ in r.json()["headers"]}
    assert not names & {"x-private", "proxy-authorization", "keep-alive"}
    r = get(g.port, "/plain")  # the backend answers "connection: keep-alive, x-secret"
    assert "x-secret" not in r.headers and r.headers["x-backend"] == "1"


def test_keep_alive_serves_many_requests_on_one_connection(gw) -> None:
    g, _ = gw
    with connect(g.port) as s:
        reader = Reader(s)
        for i in range(5):
            s.sendall(f"GET /n{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert reader.response().json()["path"] == f"/n{i}"


def test_pipelined_requests_are_answered_in_order(gw) -> None:
    g, _ = gw
    with connect(g.port) as s:
        s.sendall(b"".join(f"GET /p{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(8))
                  + b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                  + b"GET /slow?ms=50 HTTP/1.1\r\nHost: t\r\n\r\n"
                  + b"GET /last HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        paths = [reader.response().json().get("path") for _ in range(8)]
        assert paths == [f"/p{i}" for i in range(8)]
        assert reader.response().json()["bytes"] == 3
        assert reader.response().status == 200
        assert reader.response().json()["path"] == "/last"


def test_content_length_and_chunked_uploads_arrive_whole(gw) -> None:
    g, _ = gw
    r = request(g.port, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world")
    assert r.json()["bytes"] == 11
    r = request(g.port, b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
    assert r.json()["bytes"] == 11


def test_chunked_and_close_delimited_downloads_are_rechunked_for_http11(gw) -> None:
    g, _ = gw
    r = get(g.port, "/chunked?n=5000")
    assert r.headers["transfer-encoding"] == "chunked" and len(r.body) == 5000
    r = get(g.port, "/eof?n=3000")
    assert r.headers["transfer-encoding"] == "chunked" and len(r.body) == 3000


def test_expect_100_continue_gets_an_interim_response_first(gw) -> None:
    g, _ = gw
    with connect(g.port) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        reader = Reader(s)
        assert reader.response().status == 100
        s.sendall(b"body")
        r = reader.response()
        assert r.status == 200 and r.json()["bytes"] == 4
        # forwarded, so that an instance can refuse the body before it is sent
        assert ["expect", "100-continue"] in r.json()["headers"]


def test_head_204_and_304_have_no_body_and_keep_the_connection(gw) -> None:
    g, _ = gw
    with connect(g.port) as s:
        reader = Reader(s)
        s.sendall(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n")
        r = reader.response(head_only=True)
        assert r.status == 200 and r.headers["content-length"] == "5"
        for code in (204, 304):
            s.sendall(f"GET /status/{code} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert reader.response().status == code
        s.sendall(b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        assert reader.response().json()["path"] == "/after"


def test_http10_client_gets_a_close_delimited_body_and_a_closed_connection(gw) -> None:
    g, _ = gw
    with connect(g.port) as s:
        s.sendall(b"GET /chunked?n=2000 HTTP/1.0\r\n\r\n")
        reader = Reader(s)
        r = reader.response()
        assert r.status == 200 and len(r.body) == 2000 and "transfer-encoding" not in r.headers


def test_http10_keep_alive_is_honoured(gw) -> None:
    g, _ = gw
    with connect(g.port) as s:
        reader = Reader(s)
        for _ in range(2):
            s.sendall(b"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = reader.response()
            assert r.status == 200 and r.headers["connection"] == "keep-alive"


def test_absolute_form_is_served_locally_never_forwarded_elsewhere(gw) -> None:
    g, b = gw
    r = request(g.port, b"GET http://evil.example:9/echo HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 200 and r.headers["x-served-by"] == b.address
    assert r.json()["target"] == "/echo"


def test_the_gateway_answers_its_own_health(gw) -> None:
    g, _ = gw
    r = get(g.port, "/_stateline/health")
    assert r.status == 200 and r.json()["status"] == "ok" and "x-served-by" not in r.headers


def test_pipelined_requests_keep_their_own_http_versions(gw) -> None:
    """The response framing follows each request's version, not the last one parsed."""
    g, _ = gw
    with connect(g.port) as s:
        s.sendall(b"GET /chunked?n=3 HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /download?n=2 HTTP/1.0\r\n\r\n")
        reader = Reader(s)
        first = reader.response()
        assert first.headers["transfer-encoding"] == "chunked" and first.body == b"ccc"
        assert "connection" not in first.headers  # 1.1: stays open for the next answer
        second = reader.response()
        assert second.status == 200 and len(second.body) == 2
        assert second.headers["connection"] == "close" and reader.closed()
    with connect(g.port) as s:
        s.sendall(b"GET /chunked?n=3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                  b"GET /download?n=2 HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        first = reader.response()
        assert "transfer-encoding" not in first.headers and first.body == b"ccc"


def test_request_trailers_never_become_headers_of_the_next_request(gw) -> None:
    g, _ = gw
    with connect(g.port) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nabc\r\n0\r\nX-Trailer-Evil: 1\r\nHost: evil\r\n\r\n"
                  b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        first = reader.response()
        assert first.status == 200 and first.json()["bytes"] == 3
        second = reader.response()
        assert second.status == 200
        seen = {name for name, _ in second.json()["headers"]}
        assert "x-trailer-evil" not in seen and "host" in seen


def test_response_trailers_never_reach_the_next_response_on_that_connection(gw) -> None:
    """One instance, one pooled connection: a trailer must not leak to another client."""
    g, _ = gw
    first = get(g.port, "/trailer")
    assert first.status == 200 and first.body == b"abc"
    second = get(g.port, "/echo", "X-Request-ID: mine-2\r\n")
    assert second.status == 200
    assert "x-leak" not in second.headers and "set-cookie" not in second.headers
    assert second.headers["x-request-id"] == "mine-2"
