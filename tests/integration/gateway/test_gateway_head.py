"""HEAD: every answer the gateway makes itself has no body (issue 10, item 11).

A body after the head of a HEAD answer is read by a kept-alive client as the
start of its next response: the connection is out of sync from then on. So
each local answer is asked for with HEAD, one after the other, over one
connection, and the connection must still answer a GET correctly at the end.
Answers that close the connection (refusals of a bad head) must send nothing
after their head either.
"""

from __future__ import annotations

import uuid

import pytest
from gwtest import TOKEN, Reader, admin, connect, free_port, get
from test_gateway_ratelimit import limited_config

_AUTH = f"Authorization: Bearer {TOKEN}\r\n"
_PREFIX = f"/limited-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def gw(redis_url, backends, gateway):
    """Routes to every kind of local answer: limited, unreachable, hanging, no route."""
    b = backends("head")
    dead = free_port()  # nothing listens there
    extra = f"""
[pools.dead]
backends = ["http://127.0.0.1:{dead}"]
health_checks = false
retries = 0

[pools.slow]
backends = ["http://{b.address}"]
health_checks = false
response_timeout = 0.5
retries = 0

[pools.gone]
backends = ["http://{b.address}"]
health_checks = false

[[routes]]
prefix = "/dead"
pool = "dead"

[[routes]]
prefix = "/hang"
pool = "slow"

[[routes]]
prefix = "/gone"
pool = "gone"

[[routes]]
prefix = "/ok"
pool = "apps"
"""
    g = gateway(limited_config(redis_url, b.address, _PREFIX, "rate_per_s = 0.01, burst = 1",
                               extra))
    # the only member of "gone" ejected by hand: its route answers 503 no_upstream
    assert admin(g.port, "POST", f"/_stateline/pools/gone/members/{b.address}/eject").status == 200
    assert get(g.port, f"{_PREFIX}/x").status == 200  # uses up the burst: the next is a 429
    return g


# (path, extra header lines, status): every local answer that keeps the connection open
KEPT_ALIVE = [
    ("/_stateline/health", "", 200),
    ("/_stateline/metrics", "", 200),
    ("/_stateline/pools", "", 401),
    ("/_stateline/stats", "Authorization: Bearer wrong\r\n", 401),
    ("/_stateline/stats", _AUTH, 200),
    ("/_stateline/pools", _AUTH, 200),
    ("/_stateline/nothing", "", 404),
    ("/_stateline/pools/apps/members/x/drain", _AUTH, 405),
    ("/nowhere", "", 404),
    (f"{_PREFIX}/x", "", 429),
    ("/gone/x", "", 503),
    ("/dead/x", "", 502),
    ("/hang", "", 504),
]


def _heads_in_a_row(port: int, cases: list[tuple[str, str, int]]) -> None:
    with connect(port, timeout=10) as s:
        reader = Reader(s)
        for path, extra, status in cases:
            s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
            r = reader.response(head_only=True)
            assert r.status == status, (path, r.status)
            assert r.headers.get("connection") != "close", path
        s.sendall(b"GET /ok/after HTTP/1.1\r\nHost: t\r\n\r\n")
        r = reader.response()
        assert r.status == 200 and r.headers["x-served-by"], r
        assert reader.buf == b""


@pytest.mark.parametrize("case", KEPT_ALIVE, ids=[f"{c[2]}{c[0]}" for c in KEPT_ALIVE])
def test_a_local_answer_to_head_has_no_body(gw, case) -> None:
    """Each answer on its own, then a GET on the same connection."""
    _heads_in_a_row(gw.port, [case])


def test_every_local_answer_to_head_in_a_row_on_one_connection(gw) -> None:
    _heads_in_a_row(gw.port, KEPT_ALIVE)


def test_admin_disabled_answers_head_without_a_body(backends, gateway) -> None:
    from gwtest import pool_toml

    b = backends()
    g = gateway(pool_toml(b.address, health_checks=False), token=None)
    _heads_in_a_row(g.port, [("/_stateline/pools", "", 403), ("/_stateline/stats", _AUTH, 403),
                             ("/ok", "", 200)])


# refusals of the head itself: the answer closes the connection; nothing may follow its head
CLOSING = [
    (b"HEAD /ok/x HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999999\r\n\r\n", 413),
    (b"HEAD /ok/x HTTP/1.1\r\nHost: t\r\nExpect: nothing\r\n\r\n", 417),
    (b"HEAD /ok/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"HEAD /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    (b"HEAD /ok/x HTTP/1.1\r\nHost: t\r\n" + b"X-A: b\r\n" * 100 + b"\r\n", 431),
]


@pytest.mark.parametrize("raw,status", CLOSING, ids=[str(c[1]) for c in CLOSING])
def test_a_refused_head_request_gets_no_body_either(gw, raw: bytes, status: int) -> None:
    with connect(gw.port) as s:
        s.sendall(raw)
        reader = Reader(s)
        r = reader.response(head_only=True)
        assert r.status == status
        assert reader.closed(timeout=5)
        assert reader.buf == b""
