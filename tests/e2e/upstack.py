"""`stateline up` as a subprocess for the e2e tests: start, wait until ready, ask, stop.

One copy for every e2e module that runs the topology as a user does (the
`up` tour, the blob-server tests, the OpenAPI fuzz), as ``gwtest`` is for the
gateway's.
Timeouts here are hang guards; nothing asserts on how long anything took
except where a test says so itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from stateline.local.control import ControlClient, ControlError

STATELINE = [sys.executable, "-m", "stateline"]


@dataclass
class Stack:
    """One `stateline up` on ``data_dir`` and ``port``, with ``apps`` instances."""

    data_dir: Path
    port: int
    apps: int = 3
    ready_s: float = 120
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data_dir.parent / "up.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*STATELINE, "up", "--port", str(self.port), "--apps", str(self.apps),
                 "--data-dir", str(self.data_dir)],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.data_dir.parent,
            )
        try:
            wait_for(self._ready, self.ready_s, "stateline up to be ready")
        except BaseException:
            self.close()  # a failed start leaves no `up` behind for the fixture to miss
            raise

    def assert_running(self) -> None:
        """Raise, with `up`'s log, if it has exited."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"stateline up exited ({self.proc.returncode}):\n"
                                 + self.log.read_text())

    def _ready(self) -> bool:
        self.assert_running()
        if not all(p["state"] == "up" for p in self.status()["processes"]):
            return False
        return httpx.get(f"{self.url}/_stateline/health", timeout=2).status_code == 200

    def status(self) -> dict[str, Any]:
        return ControlClient(self.data_dir, timeout=30).call({"cmd": "status"})

    def row(self, process_id: str) -> dict[str, Any]:
        """The status row of one process (StopIteration, which ``wait_for`` retries, if none)."""
        return next(p for p in self.status()["processes"] if p["id"] == process_id)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*STATELINE, *args, "--data-dir", str(self.data_dir)],
                              capture_output=True, text=True, timeout=60)

    def stop(self) -> float:
        """Ctrl-C, as a user stops it; the seconds until it exited."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        return time.monotonic() - started

    def close(self, timeout: float = 30) -> None:
        """A fixture's teardown: stop it if it still runs (Ctrl-C, SIGKILL after ``timeout``).

        Not :meth:`stop`: a test that checks the stop calls that; this only
        makes sure no `up` outlives the module, whatever the tests did.
        """
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it is truthy; a store or control hiccup counts as 'not yet'."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := predicate():
                return result
        except (ControlError, httpx.HTTPError, StopIteration):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
