"""Running a supervisor as a subprocess and checking what it leaves behind."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stateline.local.control import ControlClient, ControlError
from stateline.local.procs import pid_alive, processes_mentioning


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` if it never does."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (ControlError, OSError):
            last = None
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def status(data_dir: Path) -> dict[str, Any]:
    return ControlClient(data_dir, timeout=20).call({"cmd": "status"})


def by_id(data_dir: Path) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in status(data_dir)["processes"]}


def all_up(data_dir: Path) -> dict[str, dict[str, Any]] | None:
    procs = by_id(data_dir)
    return procs if all(p["state"] == "up" for p in procs.values()) else None


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 15) -> float:
    """Signal the supervisor and wait for it; returns how long it took to exit."""
    started = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout)
    return time.monotonic() - started


def assert_all_gone(pids: Sequence[int], data_dir: Path, timeout: float = 5) -> None:
    wait_for(lambda: not [p for p in pids if pid_alive(p)], timeout, f"pids {pids} to exit")
    left = processes_mentioning(str(data_dir))
    assert left == [], f"processes left behind: {left}"
