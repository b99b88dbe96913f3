"""Progress of the loads running in this process, for whoever shows it.

A load runs deep inside an experiment (on its own thread and event loop, see
:mod:`stateline.lab.background`), far from the console or the dashboard that
wants to show how far it is. So the load generator reports a :class:`Tick`
twice a second to the listeners registered here, process-wide, and knows
nothing of how they show it: ``stateline experiment`` draws a progress bar
with a percentage and an ETA (:mod:`stateline.lab.console`), and a run started
from the dashboard also writes the ticks to a file the page charts
(:class:`TickFile`). With no listener, nothing is reported and a load pays
nothing.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Tick:
    """One look at a running load (times in seconds since that load started)."""

    t: float
    total: float
    rps: float
    #: Failed requests per second over the last second.
    errors_per_s: float
    #: Failed requests of this load so far.
    errors: int
    #: None where the load measures no latency (an experiment's own client threads).
    p50_ms: float | None
    p99_ms: float | None
    label: str = "load"

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, self.t / self.total))

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


Listener = Callable[[Tick], None]

_listeners: list[Listener] = []
_lock = threading.Lock()


def watched() -> bool:
    """Whether anyone listens (a load skips its progress timer otherwise)."""
    return bool(_listeners)


def report(tick: Tick) -> None:
    """Hand ``tick`` to every listener; a listener that fails is not the load's problem."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        with contextlib.suppress(Exception):
            listener(tick)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener`` with every tick reported while the block runs."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


@contextlib.contextmanager
def ticking(label: str, total: float, counts: Callable[[], tuple[int, int]],
            interval: float = 0.5) -> Iterator[None]:
    """Ticks for a load that the load generator does not run (an experiment's own
    client threads), from its running totals ``counts() -> (requests, failed)``,
    every ``interval`` on a thread of its own while the block runs; nothing at all
    when nobody listens."""
    if not watched():
        yield
        return
    stop = threading.Event()
    started = time.monotonic()

    def run() -> None:
        last_t, last_n, last_failed = 0.0, 0, 0
        while not stop.wait(interval):
            t = time.monotonic() - started
            n, failed = counts()
            dt = max(t - last_t, 1e-3)
            report(Tick(t=t, total=total, rps=(n - last_n) / dt,
                        errors_per_s=(failed - last_failed) / dt, errors=failed,
                        p50_ms=None, p99_ms=None, label=label))
            last_t, last_n, last_failed = t, n, failed

    thread = threading.Thread(target=run, name="stateline-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


class TickFile:
    """Ticks and steps as JSON lines in a file, which the dashboard reads as they come.

    One line per record, written whole and flushed, so a reader that sees a
    complete line sees a complete record: ``{"kind": "tick", ...}``,
    ``{"kind": "step", "text": ...}`` and, at the end, ``{"kind": "done", ...}``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps({"at": round(time.monotonic() - self._started, 3), **record})
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()

    def tick(self, tick: Tick) -> None:
        self.write({"kind": "tick", **tick.to_json()})

    def step(self, text: str) -> None:
        self.write({"kind": "step", "text": text})

    def close(self) -> None:
        with self._lock:
            self._file.close()
