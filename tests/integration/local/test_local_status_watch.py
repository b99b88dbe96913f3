"""``stateline status --watch`` off a terminal: the table once, then one line per change.

Runs the real supervisor with stand-in processes (run_supervisor.py), kills an
instance and waits for the line naming its new pid; then stops the supervisor
and waits for the watch to say so and exit. Deadlines are hang guards only.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from local_helpers import all_up, by_id, wait_for

from stateline.local.control import ControlClient
from stateline.local.procs import free_port

pytestmark = pytest.mark.timeout(120)
DRIVER = Path(__file__).with_name("run_supervisor.py")


class Lines:
    """A child's stdout read line by line on a thread (a pipe's buffer hides lines from select)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        out = proc.stdout
        threading.Thread(target=lambda: [*map(self.queue.put, out), self.queue.put(None)],
                         daemon=True).start()

    def until(self, want: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.seen:
                if want in line:
                    return line
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"never saw {want!r}: {self.seen}") from None
            if line is None:
                raise AssertionError(f"output ended before {want!r}: {self.seen}")
            self.seen.append(line.rstrip("\n"))


def test_watch_prints_changes_then_the_stop(tmp_path: Path, redis_url: str) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    sup = subprocess.Popen(
        [sys.executable, str(DRIVER), str(data_dir), str(free_port()), "2"],
        env={**env, "STATELINE_REDIS_URL": redis_url,
             "STATELINE_BLOB_URL": f"file://{data_dir.resolve()}/blobs"},
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    watch = None
    try:
        wait_for(lambda: all_up(data_dir), 30, "the supervisor to start")
        watch = subprocess.Popen(
            [sys.executable, "-m", "stateline", "status", "--watch", "--interval", "0.2",
             "--data-dir", str(data_dir)], env=env, stdout=subprocess.PIPE, text=True)
        lines = Lines(watch)
        lines.until("app-2")  # the table, once
        old = by_id(data_dir)["app-1"]["pid"]
        ControlClient(data_dir).call({"cmd": "kill", "id": "app-1"})
        new = wait_for(lambda: (p := by_id(data_dir)["app-1"])["state"] == "up"
                       and p["pid"] != old and p["pid"], 30, "app-1 to come back")
        line = lines.until(f"pid {new}")
        assert line.split()[1] == "app-1"
        assert not any("│" in s for s in lines.seen[lines.seen.index(line):])  # no redraws
        sup.send_signal(signal.SIGINT)
        sup.wait(20)
        lines.until("the supervisor stopped")
        assert watch.wait(20) == 0
    finally:
        for p in (watch, sup):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGINT)
                p.wait(20)
