"""What ``stateline experiment`` shows on the console: progress while it runs, figures after.

Progress: on a TTY, rich progress lines on stderr that the experiment's log
lines scroll above: the latest step (spinner, elapsed time) and, while a load
runs, a bar with its percentage, ETA and live figures (req/s, errors, p99),
fed by :mod:`stateline.lab.progress`. Not on a TTY (CI, a pipe): the same log
lines plain, one per step, and for a load of 10 s or more one plain line at
each quarter (25 %, 50 %, 75 %), so a log file shows it advancing without a
redrawn bar's noise. Completion: the headline figures as the report's sentence
plus a small table, not just a path.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from stateline.lab.progress import Tick, listening

#: Off a TTY, loads shorter than this get no progress lines (only their steps).
PLAIN_MIN_SECONDS = 10.0


def tick_line(tick: Tick) -> str:
    """One load's progress as plain text (a log line, the bar's description)."""
    left = max(0.0, tick.total - tick.t)
    return (f"{tick.label}: {tick.fraction:.0%} ({tick.t:.0f}/{tick.total:g} s, "
            f"ETA {left:.0f} s)  {figures(tick)}")


def figures(tick: Tick) -> str:
    p99 = "" if tick.p99_ms is None else f"  p99 {tick.p99_ms:.1f} ms"
    return f"{tick.rps:,.0f} req/s  {tick.errors:,} errors{p99}"


class _PlainTicks:
    """Off a TTY: one line per quarter of a load (of 10 s or more)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._load: tuple[str, float] | None = None
        self._quarter = 0

    def __call__(self, tick: Tick) -> None:
        if tick.total < PLAIN_MIN_SECONDS:
            return
        with self._lock:
            key = (tick.label, tick.total)
            if key != self._load or tick.t * 4 < self._quarter * tick.total:
                self._load, self._quarter = key, 0  # a new load (or its clock restarted)
            quarter = min(3, int(tick.fraction * 4))
            if quarter > self._quarter:
                self._quarter = quarter
                print(f"  {tick_line(tick)}", file=self.out, flush=True)


@contextmanager
def progress(name: str, stream: TextIO | None = None) -> Iterator[Callable[[str], None]]:
    """A ``log`` callable for an experiment's Context; shows load progress meanwhile."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        with listening(_PlainTicks(out)):
            yield lambda msg: print(msg, file=out, flush=True)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=out)
    with Progress(SpinnerColumn(), TextColumn(f"[bold]{name}[/bold]"), TimeElapsedColumn(),
                  BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), console=console, transient=True) as bar:
        step = bar.add_task("starting", total=None)
        load = bar.add_task("", total=1.0, visible=False)
        last_tick = [0.0]

        def on_tick(tick: Tick) -> None:
            last_tick[0] = time.monotonic()
            bar.update(load, total=tick.total, completed=min(tick.t, tick.total), visible=True,
                       description=f"{tick.label}: {figures(tick)}")

        def log(msg: str) -> None:
            bar.console.print(msg, markup=False, highlight=False)
            bar.update(step, description=msg.strip().splitlines()[0][:80] if msg.strip() else "")
            if time.monotonic() - last_tick[0] > 1.5:  # that load is over
                bar.update(load, visible=False)

        with listening(on_tick):
            yield log


def headline_text(name: str, data: Mapping[str, Any]) -> str:
    """The finished experiment's figures, as plain text: the sentence, then name = value."""
    from stateline.lab.report import _num, headline_sentences

    lines = [f"{name}: " + ("; ".join(headline_sentences(name, {name: data})) or "done")]
    if data.get("quick"):
        lines.append("  (quick run: shorter and noisier than a full run)")
    headline = data.get("headline") or {}
    width = max((len(k) for k in headline), default=0)
    lines += [f"  {key.replace('_', ' '):<{width}}  {_num(value)}"
              for key, value in headline.items()]
    return "\n".join(lines)
