"""What ``stateline experiment`` shows on the console: progress while it runs, figures after.

Progress: on a TTY, a rich progress line on stderr (spinner, elapsed time, the
experiment's latest step) that the experiment's log lines scroll above; not on a
TTY (CI, a pipe), the same log lines plain, one per step, as before. Completion:
the headline figures as the report's sentence plus a small table, not just a path.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO


@contextmanager
def progress(name: str, stream: TextIO | None = None) -> Iterator[Callable[[str], None]]:
    """A ``log`` callable for an experiment's Context, drawing a live line on a TTY."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        yield lambda msg: print(msg, file=out, flush=True)
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=out)
    with Progress(SpinnerColumn(), TextColumn(f"[bold]{name}[/bold]"), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def log(msg: str) -> None:
            bar.console.print(msg, markup=False, highlight=False)
            bar.update(task, description=msg.strip().splitlines()[0][:80] if msg.strip() else "")

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
