"""``stateline logs [-f] [ID...]`` off a terminal, on a data dir's real log files.

The follow test appends to a log and adds a new one while ``logs -f`` runs,
and waits (with a generous hang guard only) until both lines came out.
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

STATELINE = [sys.executable, "-m", "stateline"]


def _logs_dir(tmp_path: Path) -> Path:
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    (logs / "app-1.log").write_text("one\ntwo\n")
    (logs / "gateway.log").write_text("listening\n")
    return logs


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    return subprocess.run([*STATELINE, "logs", *args, "--data-dir", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=60, env=env)


def test_logs_prints_every_file_with_an_aligned_prefix(tmp_path: Path) -> None:
    _logs_dir(tmp_path)
    out = _run(tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "app-1   | one", "app-1   | two", "gateway | listening"]
    assert "\x1b[" not in out.stdout  # no colour off a terminal


def test_logs_selects_ids_and_tails(tmp_path: Path) -> None:
    _logs_dir(tmp_path)
    out = _run(tmp_path, "app-1", "--tail", "1")
    assert out.stdout.splitlines() == ["app-1 | two"]


def test_logs_unknown_id_is_a_usage_error(tmp_path: Path) -> None:
    _logs_dir(tmp_path)
    out = _run(tmp_path, "app-9")
    assert out.returncode == 2
    assert "no log for app-9" in out.stderr and "app-1" in out.stderr


def test_logs_without_a_data_dir_says_so(tmp_path: Path) -> None:
    out = _run(tmp_path)
    assert out.returncode == 1
    assert "no logs in" in out.stderr


@pytest.mark.timeout(60)
def test_logs_follow_prints_new_lines_and_new_files(tmp_path: Path) -> None:
    logs = _logs_dir(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    proc = subprocess.Popen([*STATELINE, "logs", "-f", "--data-dir", str(tmp_path / "data")],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    out = proc.stdout
    threading.Thread(target=lambda: [*map(lines.put, out)], daemon=True).start()
    seen: list[str] = []

    def until(line: str) -> None:
        deadline = time.monotonic() + 45  # a hang guard, not a measurement
        while line not in seen:
            try:
                seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())).rstrip())
            except queue.Empty:
                raise AssertionError(f"never saw {line!r}; saw {seen}") from None

    try:
        until("gateway | listening")
        with (logs / "app-1.log").open("a") as f:
            f.write("three, half")
            f.flush()
            f.write(" and whole\n")
        until("app-1   | three, half and whole")
        (logs / "app-4.log").write_text("started later\n")
        until("app-4   | started later")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert proc.returncode == 0
    assert "app-1   | three, half" not in seen  # a line is printed only once complete
