"""Runs started from the dashboard: a bounded ``stateline bench`` or a ``stateline experiment``.

Each is a child process of the supervisor (so a run that crashes or hangs
cannot take ``up`` with it) that writes its progress as JSON lines to a file
(``--progress-file``, :class:`stateline.lab.progress.TickFile`): its steps,
two load ticks a second (req/s, errors, p50/p99) and, at the end, its
headline. The dashboard reads what was appended since the last look once per
snapshot (a few hundred bytes a second, no thread, no socket) and sends the
run's state and its recent points with every snapshot, which the page charts.
One run at a time.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

#: Points kept per run (two a second: ten minutes) and sent with each snapshot.
POINTS_KEPT = 1200
POINTS_SENT = 240
STEPS_KEPT = 8
#: The most bytes read from a progress file per look (the rest waits for the next).
READ_LIMIT = 256 * 1024


class Job:
    """One run: its process, its progress file, and what was read from that so far."""

    def __init__(self, number: int, kind: str, name: str, argv: list[str], folder: Path) -> None:
        self.number, self.kind, self.name = number, kind, name
        folder.mkdir(parents=True, exist_ok=True)
        self.progress_path = folder / f"run-{number}.jsonl"
        self.log_path = folder / f"run-{number}.log"
        self.progress_path.write_bytes(b"")
        self.started = time.time()
        self.points: deque[dict[str, Any]] = deque(maxlen=POINTS_KEPT)
        self.steps: deque[str] = deque(maxlen=STEPS_KEPT)
        self.last: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self._offset = 0
        self._partial = b""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*argv, "--progress-file", str(self.progress_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def read(self) -> None:
        """Take in the complete lines appended to the progress file since the last look."""
        try:
            with self.progress_path.open("rb") as f:
                f.seek(self._offset)
                data = f.read(READ_LIMIT)
        except OSError:
            return
        self._offset += len(data)
        data = self._partial + data
        complete, _, self._partial = data.rpartition(b"\n")
        for line in complete.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                self._take(record)

    def _take(self, record: dict[str, Any]) -> None:
        kind = record.get("kind")
        if kind == "tick":
            point = {k: record.get(k) for k in
                     ("at", "rps", "errors_per_s", "p50_ms", "p99_ms", "label")}
            self.points.append(point)
            self.last = {k: record.get(k) for k in ("t", "total", "label", "errors")}
        elif kind == "step":
            self.steps.append(str(record.get("text", ""))[:200])
        elif kind in ("done", "failed"):
            self.result = record

    def state(self) -> dict[str, Any]:
        """What the page shows of this run (read the file first)."""
        self.read()
        code = self.proc.poll()
        return {"number": self.number, "kind": self.kind, "name": self.name,
                "running": code is None, "pid": self.proc.pid, "exit": code,
                "started_at": self.started, "load": self.last, "steps": list(self.steps),
                "points": list(self.points)[-POINTS_SENT:], "result": self.result,
                "log": str(self.log_path)}

    def stop(self) -> None:
        """Ask it to stop as Ctrl-C would: an experiment tears its own stack down."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)

    def kill(self, grace: float) -> None:
        self.stop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(grace)
        if self.running:
            self.proc.kill()
            self.proc.wait()


def bench_argv(gateway_url: str, rate: float, duration: float) -> list[str]:
    return [sys.executable, "-m", "stateline", "bench", gateway_url,
            "--rate", f"{rate:g}", "--duration", f"{duration:g}"]


def experiment_argv(name: str, quick: bool, out: Path) -> list[str]:
    return [sys.executable, "-m", "stateline", "experiment", name, "--out", str(out),
            *(["--quick"] if quick else [])]
