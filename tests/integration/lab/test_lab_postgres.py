"""``PrivatePostgres`` (the test session's and the lab's ``pg`` host's PostgreSQL) on loopback.

What ``test_pg_fixture`` cannot see from the URL alone: the server is gone and
its dir removed after :meth:`stop` (twice is harmless), and a start that fails
says why in PostgreSQL's words and leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from stateline.lab.postgres import PrivatePostgres, pg_bin
from stateline.local.procs import free_port

pytestmark = pytest.mark.postgres

if not (pg_bin("initdb") and pg_bin("pg_ctl")):
    if os.environ.get("CI") == "true":
        raise RuntimeError("PostgreSQL (initdb, pg_ctl) is missing; .ci/run installs it")
    pytestmark = [pytestmark, pytest.mark.skip(reason="PostgreSQL (initdb, pg_ctl) not installed")]


@pytest.fixture
def own_tempdir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temp root of this test's alone (0755: the unprivileged server must get through)."""
    root = Path(tempfile.mkdtemp(prefix="stateline-pg-test-"))
    os.chmod(root, 0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_it_answers_then_stop_removes_the_server_and_its_dir(own_tempdir: Path) -> None:
    server = PrivatePostgres(port=free_port())
    url = server.start()
    assert server.base is not None and server.base.parent == own_tempdir
    assert (server.base / "data" / "PG_VERSION").exists()
    with psycopg.connect(url) as conn:
        assert conn.execute("select current_user, 6 * 7").fetchone() == ("stateline", 42)
    server.stop()
    assert list(own_tempdir.iterdir()) == [] and server.base is None
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)
    server.stop()  # again: nothing to do, no error


def test_a_start_that_fails_says_why_and_leaves_no_dir(own_tempdir: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    server = PrivatePostgres(port=taken.getsockname()[1])
    try:
        with pytest.raises(RuntimeError, match="could not start server") as failed:
            server.start()
    finally:
        taken.close()
    assert "Address already in use" in str(failed.value)  # the server's log, quoted
    assert server.base is None and list(own_tempdir.iterdir()) == []
