"""Membership from the registry, draining, graceful shutdown, and --workers N."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from gwtest import Reader, connect, get, pool_toml, wait_until

from stateline.registry import Registrar
from stateline.stores.redis import connect as redis_connect


class Registry:
    """Registrars for test instances, running on an event loop in a background thread."""

    def __init__(self, url: str, pool: str) -> None:
        self.url, self.pool = url, pool
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.redis = self.run(self._connect())
        self.registrars: dict[str, Registrar] = {}

    async def _connect(self):
        return redis_connect(self.url)

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def register(self, id: str, address: str) -> None:
        r = Registrar(self.redis, self.pool, id, address, ttl_ms=2000, interval_s=0.5)
        self.registrars[id] = r
        self.run(r.start())

    def drain(self, id: str) -> None:
        self.run(self.registrars[id].drain())

    def deregister(self, id: str) -> None:
        self.run(self.registrars.pop(id).stop())

    def close(self) -> None:
        for id in list(self.registrars):
            self.deregister(id)
        self.run(self.redis.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def registry(redis_url: str) -> Iterator[Registry]:
    reg = Registry(redis_url, f"apps-{uuid.uuid4().hex[:8]}")
    yield reg
    reg.close()


def served_by(port: int, n: int = 8) -> set[str]:
    return {get(port, "/x").headers.get("x-served-by", "?") for _ in range(n)}


@pytest.mark.slow
def test_registry_members_are_followed_and_a_draining_one_finishes_in_flight_work(
        registry, redis_url, backends, gateway) -> None:
    a, b = backends("app-a"), backends("app-b")
    registry.register("app-a", a.address)
    g = gateway(args=["--registry", redis_url, "--pool", registry.pool])
    assert wait_until(lambda: get(g.port, "/x").status == 200, 5.0)
    registry.register("app-b", b.address)
    assert wait_until(lambda: served_by(g.port) == {"app-a", "app-b"}, 2.0)

    # two slow requests in flight (round robin: one on each instance), then app-b drains
    inflight: list[tuple[int, str]] = []

    def slow_request() -> None:
        with connect(g.port, timeout=10) as s:
            s.sendall(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = Reader(s).response()
            inflight.append((r.status, r.headers.get("x-served-by", "")))

    threads = [threading.Thread(target=slow_request) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    registry.drain("app-b")
    time.sleep(0.6)  # two registry polls
    assert served_by(g.port) == {"app-a"}
    for t in threads:
        t.join(10)
    assert sorted(inflight) == [(200, "app-a"), (200, "app-b")]

    registry.deregister("app-b")
    registry.register("app-b2", b.address)
    assert wait_until(lambda: "app-b2" in served_by(g.port), 1.5)


@pytest.mark.slow
def test_sigterm_lets_in_flight_requests_finish_then_exits(backends, gateway) -> None:
    b = backends()
    g = gateway(pool_toml(b.address, health_checks=False))
    result: list[int] = []

    def slow_request() -> None:
        with connect(g.port, timeout=10) as s:
            s.sendall(b"GET /slow?ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n")
            result.append(Reader(s).response().status)

    t = threading.Thread(target=slow_request)
    t.start()
    time.sleep(0.3)
    g.proc.send_signal(signal.SIGTERM)
    t.join(10)
    assert result == [200]
    assert g.proc.wait(10) == 0


@pytest.mark.slow
def test_workers_share_one_port_and_stop_together(backends, gateway) -> None:
    b = backends()
    g = gateway(pool_toml(b.address, health_checks=False), args=["--workers", "2"])
    pids: set[int] = set()

    def both_workers_answered() -> bool:
        # Which worker accepts a connection is the kernel's choice, and a busy machine can
        # hand many in a row to one of them (or the second may still be starting): keep
        # asking until both have answered; the deadline is only a hang guard.
        with connect(g.port) as s:
            s.sendall(b"GET /_stateline/health HTTP/1.1\r\nHost: t\r\n\r\n")
            pids.add(Reader(s).response().json()["pid"])
        return len(pids) >= 2
    assert wait_until(both_workers_answered, 60.0)
    assert len(pids) == 2 and g.proc.pid not in pids
    assert get(g.port, "/x").status == 200
    g.proc.send_signal(signal.SIGTERM)
    assert g.proc.wait(15) == 0
    for pid in pids:
        assert wait_until(lambda pid=pid: not os.path.exists(f"/proc/{pid}"), 5.0)


@pytest.mark.slow
def test_sigterm_answers_pipelined_requests_already_received(backends, gateway) -> None:
    b = backends()
    g = gateway(pool_toml(b.address, health_checks=False))
    with connect(g.port, timeout=10) as s:
        s.sendall(b"GET /slow?ms=600 HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)
        g.proc.send_signal(signal.SIGTERM)
        reader = Reader(s)
        first, second = reader.response(), reader.response()
        assert (first.status, second.status) == (200, 200)
        assert "connection" not in first.headers  # the second was already in: keep it open
        assert second.headers["connection"] == "close"
        assert reader.closed()
    assert g.proc.wait(10) == 0


@pytest.mark.slow
def test_sigterm_answers_a_request_sent_on_an_idle_keep_alive_connection(backends,
                                                                         gateway) -> None:
    b = backends()
    g = gateway(pool_toml(b.address, health_checks=False))
    with connect(g.port, timeout=10) as s:
        reader = Reader(s)
        s.sendall(b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n")
        assert reader.response().status == 200
        os.kill(g.proc.pid, signal.SIGSTOP)  # the request and the signal arrive together
        try:
            s.sendall(b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n")
            g.proc.send_signal(signal.SIGTERM)
            time.sleep(0.1)
        finally:
            os.kill(g.proc.pid, signal.SIGCONT)
        # answered either way: before the shutdown began (then the idle connection is
        # closed after it) or during it (then with Connection: close)
        assert reader.response().status == 200
        assert reader.closed()
    assert g.proc.wait(10) == 0


def test_a_trusted_proxy_keeps_its_forwarded_headers_others_do_not(backends, gateway) -> None:
    b = backends()
    trusted = gateway(pool_toml(b.address, health_checks=False).replace(
        "[gateway]", '[gateway]\ntrusted_proxies = ["127.0.0.0/8"]'))
    untrusted = gateway(pool_toml(b.address, health_checks=False).replace(
        "[gateway]", '[gateway]\ntrusted_proxies = ["10.0.0.0/8"]'))

    def seen(port: int) -> dict[str, str]:
        r = get(port, "/echo", "X-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.9\r\n")
        return dict((k, v) for k, v in r.json()["headers"])

    t, u = seen(trusted.port), seen(untrusted.port)
    assert t["x-forwarded-proto"] == "https"
    assert u["x-forwarded-proto"] == "http"
    assert t["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"  # a trusted proxy's is kept
    assert u["x-forwarded-for"] == "127.0.0.1"  # anyone else's is replaced
