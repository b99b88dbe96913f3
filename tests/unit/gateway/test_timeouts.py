"""Timeouts with time driven explicitly: request body vs response (issue 10, item 12)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from memgw import Transport, client, gateway, idle_upstream

from stateline.gateway.clock import coarse
from stateline.gateway.config import ConfigError
from stateline.gateway.upstream_protocol import UpstreamConnection

CONFIG = """
[gateway]
header_read_timeout = 10.0
request_body_timeout = 30.0
[pools.apps]
backends = ["127.0.0.1:9"]
response_timeout = 5.0
health_checks = false
"""


@pytest.fixture(autouse=True)
def loop():
    loop = asyncio.new_event_loop()  # the data plane only reads the running loop for timers
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()


def _upload_started():
    gw = gateway(CONFIG)
    conn, up_t = idle_upstream(gw)
    c, t = client(gw)
    t0 = coarse.tick()
    c.data_received(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
    assert up_t.data().startswith(b"POST /up HTTP/1.1\r\n")  # bound, head and body sent
    return SimpleNamespace(gw=gw, c=c, t=t, conn=conn, up_t=up_t, t0=t0)


def test_a_slow_upload_is_not_an_upstream_timeout() -> None:
    u = _upload_started()
    c, t, t0 = u.c, u.t, u.t0
    for step in range(1, 20):  # one byte every 4 s: 76 s in all, far past response_timeout
        coarse.now = t0 + 4.0 * step
        c.data_received(b"x")
        c.check_timeouts(coarse.now)
    assert t.data() == b"" and not u.up_t.aborted  # no 504, nothing said to the client yet


def test_a_stalled_upload_gets_408_request_body_timeout() -> None:
    u = _upload_started()
    c, t, t0 = u.c, u.t, u.t0
    c.check_timeouts(t0 + 29.0)
    assert t.data() == b""
    c.check_timeouts(t0 + 31.0)
    assert t.data().startswith(b"HTTP/1.1 408 ")
    assert b'"request_body_timeout"' in t.data()
    assert u.up_t.aborted  # the instance sees a broken request, never a complete one


def test_the_response_timeout_starts_once_the_body_is_sent() -> None:
    u = _upload_started()
    c, t, t0 = u.c, u.t, u.t0
    coarse.now = t0 + 20.0
    c.data_received(b"y" * 97)  # the body is complete at t0 + 20
    c.check_timeouts(t0 + 24.0)
    assert t.data() == b""  # 4 s after the body: still within response_timeout
    coarse.now = t0 + 25.5
    c.check_timeouts(t0 + 25.5)
    assert t.data().startswith(b"HTTP/1.1 504 ")


def test_an_instance_that_stops_taking_the_body_times_out() -> None:
    """Paused because the instance's socket is full: that wait is the instance's."""
    u = _upload_started()
    c, t, t0 = u.c, u.t, u.t0
    u.conn.pause_writing()  # what asyncio calls when the upstream's buffer fills
    c.check_timeouts(t0 + 4.0)
    assert t.data() == b""
    c.check_timeouts(t0 + 6.0)
    assert t.data().startswith(b"HTTP/1.1 504 ")


# -- try_timeout: a silent instance loses a request that may be repeated ------------------

TRY_CONFIG = """
[pools.apps]
backends = ["127.0.0.1:9", "127.0.0.1:10"]
response_timeout = 5.0
try_timeout = 1.0
health_checks = false
"""
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _two_instances(config: str = TRY_CONFIG):
    """A gateway with two instances, each with one idle connection (time driven by hand)."""
    gw = gateway(config)
    conns = []
    for up in gw.pools["apps"].members.values():
        conn = UpstreamConnection(up)
        conn.transport = Transport()
        up.idle.append(conn)
        conns.append(conn)
    c, t = client(gw)
    return gw, conns, c, t


def _sent(conns):
    return [conn for conn in conns if conn.transport.data()]


def test_a_silent_instance_loses_an_idempotent_request_after_try_timeout() -> None:
    gw, conns, c, t = _two_instances()
    t0 = coarse.tick()
    c.data_received(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
    [first] = _sent(conns)
    c.check_timeouts(t0 + 0.9)
    assert len(_sent(conns)) == 1 and not first.transport.closed  # within try_timeout
    coarse.now = t0 + 1.2
    c.check_timeouts(coarse.now)
    assert first.transport.closed  # given up on
    [second] = [conn for conn in _sent(conns) if conn is not first]
    assert second.transport.data().startswith(b"GET /x HTTP/1.1\r\n")
    assert t.data() == b""  # the client has seen nothing of the first try
    second.data_received(RESPONSE)
    assert t.data().startswith(b"HTTP/1.1 200 OK\r\n") and t.data().endswith(b"ok")
    pool = gw.pools["apps"]
    assert first.upstream.metrics.errors == {"try_timeout": 1}
    assert pool.metrics.retries == 1


def test_a_post_without_idempotency_key_waits_for_the_response_timeout() -> None:
    _gw, conns, c, t = _two_instances()
    t0 = coarse.tick()
    c.data_received(b"POST /pay HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
    [first] = _sent(conns)
    for dt in (1.2, 2.0, 4.9):  # past try_timeout: never sent twice, nothing answered yet
        c.check_timeouts(t0 + dt)
        assert _sent(conns) == [first] and not first.transport.closed and t.data() == b""
    c.check_timeouts(t0 + 5.1)
    assert t.data().startswith(b"HTTP/1.1 504 ")
    assert _sent(conns) == [first]


def test_a_post_with_an_idempotency_key_is_retried_after_try_timeout() -> None:
    _gw, conns, c, _t = _two_instances()
    t0 = coarse.tick()
    c.data_received(b"POST /pay HTTP/1.1\r\nHost: t\r\nIdempotency-Key: k1\r\n"
                    b"Content-Length: 2\r\n\r\nhi")
    [first] = _sent(conns)
    coarse.now = t0 + 1.2
    c.check_timeouts(coarse.now)
    [second] = [conn for conn in _sent(conns) if conn is not first]
    assert second.transport.data().endswith(b"\r\n\r\nhi")  # the kept body goes again


def test_when_every_instance_was_tried_the_last_try_waits_for_response_timeout() -> None:
    _gw, conns, c, t = _two_instances()
    t0 = coarse.tick()
    c.data_received(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
    coarse.now = t0 + 1.2
    c.check_timeouts(coarse.now)  # first try given up: the second instance has it
    assert len(_sent(conns)) == 2
    c.check_timeouts(t0 + 2.5)  # the second is silent too, but there is no third
    assert t.data() == b""
    c.check_timeouts(t0 + 1.2 + 5.1)  # its response_timeout, counted from its own start
    assert t.data().startswith(b"HTTP/1.1 504 ")


def test_without_try_timeout_a_silent_instance_keeps_the_request() -> None:
    _gw, conns, c, t = _two_instances(TRY_CONFIG.replace("try_timeout = 1.0\n", ""))
    t0 = coarse.tick()
    c.data_received(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
    [first] = _sent(conns)
    c.check_timeouts(t0 + 4.9)
    assert _sent(conns) == [first] and not first.transport.closed and t.data() == b""
    c.check_timeouts(t0 + 5.1)  # response_timeout: an idempotent request is retried then
    assert first.transport.closed and len(_sent(conns)) == 2


@pytest.mark.parametrize("value", ["-1.0", "5.0", "7.5"])
def test_try_timeout_must_be_off_or_below_the_response_timeout(value: str) -> None:
    with pytest.raises(ConfigError, match="try_timeout"):
        gateway(TRY_CONFIG.replace("try_timeout = 1.0", f"try_timeout = {value}"))
