"""A private, throwaway PostgreSQL server: ``initdb`` in a fresh dir, ``pg_ctl`` start and stop.

One implementation for the two places that need a real PostgreSQL nobody else
uses: the test session's ``postgres_url`` fixture (``tests/conftest.py``, on
127.0.0.1 and a free port) and the lab's ``pg`` host
(:class:`stateline.lab.hostsystem.HostSystem`, on the host's own address,
``pg_ctl`` run inside its network namespace). Trust authentication and
``fsync=off``: it holds test data only, and it is removed on :meth:`stop`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

#: Hang guards for ``pg_ctl`` (``-w`` waits up to 60 s itself) and ``initdb``.
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


class PostgresMissing(RuntimeError):
    """``initdb`` or ``pg_ctl`` is not installed (Debian: ``apt-get install postgresql``)."""


def pg_bin(name: str) -> str | None:
    """``initdb``/``pg_ctl`` on PATH or in Debian's versioned directory (the newest)."""
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


def _unprivileged_user() -> str | None:
    """Who runs ``initdb``/``pg_ctl`` when we are root (both refuse root): ``postgres``, else
    ``nobody``; None when we are not root."""
    if os.geteuid() != 0:
        return None
    import pwd

    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return user
    return None


class PrivatePostgres:
    """One PostgreSQL cluster on ``host:port``, user ``stateline``, database ``postgres``.

    ``prefix`` runs ``pg_ctl`` (and so the server) elsewhere, e.g. inside a
    network namespace (``ip netns exec ...``); ``initdb`` needs no network and
    runs here. ``trust_from`` adds a ``pg_hba.conf`` line trusting a subnet,
    for clients that are not on the server's own address. The data dir is a
    fresh temporary dir, not pytest's: that one is private to root, and the
    server runs unprivileged.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 prefix: Sequence[str] = (), trust_from: str | None = None) -> None:
        if port is None:
            from stateline.local.procs import free_port

            port = free_port()
        self.host = host
        self.port = port
        self.prefix = list(prefix)
        self.trust_from = trust_from
        self.base: Path | None = None
        self._run_as: list[str] = []
        self._pg_ctl: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://stateline@{self.host}:{self.port}/postgres"

    def start(self) -> str:
        """Make and start the cluster; its URL. Raises :class:`PostgresMissing` without the
        binaries, RuntimeError (with PostgreSQL's own words) if it does not start."""
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not (initdb and pg_ctl):
            raise PostgresMissing("PostgreSQL binaries (initdb, pg_ctl) are missing")
        self.base = Path(tempfile.mkdtemp(prefix="stateline-pg-"))
        data, sock = self.base / "data", self.base / "sock"
        sock.mkdir()
        user = _unprivileged_user()
        if user:
            shutil.chown(self.base, user)
            shutil.chown(sock, user)
            self._run_as = ["runuser", "-u", user, "--"]
        try:
            _run([*self._run_as, initdb, "-D", str(data), "-U", "stateline", "--auth=trust",
                  "-E", "UTF8", "--no-sync"])
            if self.trust_from:
                with (data / "pg_hba.conf").open("a") as f:
                    f.write(f"host all all {self.trust_from} trust\n")
            self._pg_ctl = pg_ctl
            log = self.base / "log"
            try:
                _run([*self.prefix, *self._run_as, pg_ctl, "-D", str(data), "-w",
                      "-l", str(log), "-o",
                      f"-p {self.port} -k {sock} -c listen_addresses={self.host} -c fsync=off",
                      "start"])
            except RuntimeError as exc:  # the server's own reason is in its log, removed below
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"{exc}\n{tail}") from None
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """Stop the server (fast: open sessions are cut) and remove its dir; idempotent."""
        if self.base is None:
            return
        base, pg_ctl = self.base, self._pg_ctl
        self.base = self._pg_ctl = None
        try:
            if pg_ctl is not None:
                subprocess.run([*self.prefix, *self._run_as, pg_ctl, "-D", str(base / "data"),
                                "-m", "fast", "stop"],
                               capture_output=True, timeout=STOP_TIMEOUT_S, check=False)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=START_TIMEOUT_S,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-2000:]}")
