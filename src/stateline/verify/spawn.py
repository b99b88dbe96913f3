"""Replicas for `stateline verify`: given as URLs, or started from ``--spawn 'CMD {port}'``.

Spawned replicas are the user's own app, started N times on free loopback
ports. Each runs in its own process group (so a shell wrapper, a reloader or
worker processes are stopped with it) and logs to its own files, because the
first thing a user needs when a replica does not come up is the tail of its
stderr, and because a pipe that nobody reads would eventually block the child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from stateline.local.procs import free_port

_TAIL_LINES = 20


class SpawnError(RuntimeError):
    """A replica did not start (the message carries its stderr tail)."""


class Replica(Protocol):
    """What a replay needs of a replica: where to send requests, and a restart."""

    @property
    def label(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def can_restart(self) -> bool: ...

    def restart(self) -> None: ...


@dataclass
class UrlReplica:
    """A replica someone else runs: it can be asked, not restarted."""

    url: str
    label: str
    can_restart: bool = False

    def restart(self) -> None:
        raise SpawnError(f"{self.label} was given as a URL and cannot be restarted")


def _tail(path: Path, lines: int = _TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


@dataclass
class SpawnedReplica:
    """One replica of the user's app: ``command`` with ``{port}`` and ``{replica}`` filled in."""

    command: str
    number: int
    port: int
    log_dir: Path
    startup_timeout_s: float = 30.0
    stop_timeout_s: float = 5.0
    health_path: str | None = None
    env: dict[str, str] | None = None
    can_restart: bool = True
    starts: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"replica {self.number} (127.0.0.1:{self.port})"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def argv(self) -> list[str]:
        line = self.command.replace("{port}", str(self.port))
        line = line.replace("{replica}", str(self.number))
        return ["/bin/sh", "-c", line]

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"replica-{self.number}.stderr.log"

    def start(self) -> None:
        self.starts += 1
        out = (self.log_dir / f"replica-{self.number}.stdout.log").open("ab")
        err = self.stderr_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, stopped as one
                env=self.env,
            )
        finally:
            out.close()
            err.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.startup_timeout_s
        listening = False
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise SpawnError(
                    f"{self.label} exited with status {code} before accepting connections.\n"
                    f"command: {self.argv[-1]}\nlast lines of its stderr:\n"
                    f"{_tail(self.stderr_path) or '(empty)'}"
                )
            if not listening:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.25):
                        listening = True
                except OSError:
                    time.sleep(0.05)
                    continue
            if self.health_path is None or self._healthy():
                return
            time.sleep(0.1)
        what = "answer its health check" if listening else "accept connections"
        self.stop()
        raise SpawnError(
            f"{self.label} did not {what} within {self.startup_timeout_s:g} s.\n"
            f"command: {self.argv[-1]}\nlast lines of its stderr:\n"
            f"{_tail(self.stderr_path) or '(empty)'}"
        )

    def _healthy(self) -> bool:
        try:
            r = httpx.get(self.url + str(self.health_path), timeout=1.0, trust_env=False)
        except httpx.HTTPError:
            return False
        return 200 <= r.status_code < 300

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the replica's process group and wait until its port is closed.

        Graceful: SIGTERM, then SIGKILL if the port is still open after the stop
        timeout. Not graceful: SIGKILL at once, as a crash would. The port, not
        the process, is what is waited on: with ``sh -c`` the leader is a shell
        that dies at once while the app behind it is still shutting down, and a
        killed child can linger as a zombie until init reaps it. What matters to
        the next start is that a dying replica can no longer answer the new
        one's readiness probe.
        """
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if not graceful or not self._port_closed_after(proc, signal.SIGTERM):
            self._port_closed_after(proc, signal.SIGKILL)
        # Whatever is left of the group (the shell, workers) goes too.
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(self.stop_timeout_s)

    def terminate(self) -> None:
        """Send SIGTERM without waiting, so that several replicas shut down at once."""
        if self.proc is not None:
            _signal_group(self.proc.pid, signal.SIGTERM)

    def _port_closed_after(self, proc: subprocess.Popen[bytes], sig: signal.Signals) -> bool:
        _signal_group(proc.pid, sig)
        return _wait_port_closed(self.port, self.stop_timeout_s)

    def restart(self) -> None:
        """Kill (SIGKILL, like a crash) and start again on the same port."""
        self.stop(graceful=False)
        self.start()


def _wait_port_closed(port: int, timeout_s: float) -> bool:
    """True once nothing accepts connections on the port (within the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.25):
                pass
        except OSError:
            return True
        time.sleep(0.02)
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class ReplicaSet:
    """Start N replicas and always stop them, whatever happens in between."""

    def __init__(
        self,
        command: str,
        count: int,
        *,
        startup_timeout_s: float = 30.0,
        health_path: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        if "{port}" not in command:
            raise ValueError("the --spawn command must contain {port}")
        if count < 2:
            raise ValueError("--replicas must be at least 2")
        self._tmp = tempfile.TemporaryDirectory(prefix="stateline-verify-")
        self.replicas = [
            SpawnedReplica(
                command=command,
                number=i,
                port=free_port(),
                log_dir=Path(self._tmp.name),
                startup_timeout_s=startup_timeout_s,
                health_path=health_path,
                env=env,
            )
            for i in range(1, count + 1)
        ]

    def __enter__(self) -> list[SpawnedReplica]:
        try:
            for replica in self.replicas:
                replica.start()
        except BaseException:
            self.close()
            raise
        return self.replicas

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for replica in self.replicas:
            replica.terminate()
        for replica in self.replicas:
            replica.stop()
        self._tmp.cleanup()
