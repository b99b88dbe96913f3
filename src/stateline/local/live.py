"""Live terminal views: ``stateline up``'s table in a TTY and ``stateline status --watch``.

In a terminal both redraw the process table once a second (rich ``Live``);
event lines printed meanwhile scroll above it. Off a terminal (a pipe, a log
file, CI) a redrawn table would be noise, so ``status --watch`` prints the
table once and then one plain line per change (:func:`changes`), and ``up``
keeps its plain event lines.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.live import Live

from stateline.local.table import fitted_table

Rows = Callable[[], Awaitable[list[dict[str, Any]]]]


def changes(before: Mapping[str, Mapping[str, Any]],
            after: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per process that appeared, went, or changed state, pid or role."""
    lines: list[str] = []
    seen = set()
    for p in after:
        ident = str(p.get("id"))
        seen.add(ident)
        old = before.get(ident)
        state, pid, role = p.get("state"), p.get("pid"), p.get("role")
        if old is None:
            lines.append(f"{ident} appeared ({role}, {state}, pid {pid or '-'})")
            continue
        what = []
        if old.get("state") != state:
            what.append(f"{old.get('state')} -> {state}")
        if old.get("role") != role:
            what.append(f"role {old.get('role')} -> {role}")
        if old.get("pid") != pid and pid is not None:
            what.append(f"pid {pid}")
        if what:
            lines.append(f"{ident} " + ", ".join(what))
    lines += [f"{ident} gone" for ident in before if ident not in seen]
    return lines


def by_id(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(p.get("id")): p for p in rows}


async def live_table(console: Console, rows: Rows, data_dir: str,
                     period: float = 1.0) -> None:
    """Redraw the process table in place until cancelled (a TTY only)."""
    first, _ = fitted_table(console, await rows(), data_dir)
    with Live(first, console=console, auto_refresh=False, transient=True) as live:
        while True:
            await asyncio.sleep(period)
            table, _ = fitted_table(console, await rows(), data_dir)
            live.update(table, refresh=True)


def stamp(line: str) -> str:
    return f"{time.strftime('%H:%M:%S')} {line}"
