"""Timeouts with time driven explicitly: request body vs response (issue 10, item 12)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from memgw import client, gateway, idle_upstream

from stateline.gateway.clock import coarse

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
