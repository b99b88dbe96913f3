"""What ``stateline up`` and ``stateline status`` print: one table, one short guide.

Both read the same ``status`` dict the control socket answers, so the table a
user sees at start-up and the one ``stateline status`` prints later agree.
In a terminal too narrow for the whole table, :func:`fitted_table` drops the
log column (rich would otherwise squeeze it to "logs…") and the caller names
the logs directory once below it instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATE_STYLES = {"up": "green", "starting": "yellow", "backoff": "yellow",
                "draining": "yellow", "failed": "bold red", "down": "red", "stopped": "dim"}
ROLE_ORDER = {"gateway": 0, "app": 1, "redis-master": 2, "redis-replica": 3, "redis": 4,
              "blobs": 5}


def _id_key(ident: str) -> tuple[str, int]:
    prefix, _, number = ident.rpartition("-")
    return (prefix, int(number)) if number.isdigit() else (ident, 0)


def process_table(processes: Sequence[Mapping[str, Any]], data_dir: str,
                  show_log: bool = True) -> Table:
    """The processes as a table: role, id, pid, address, state, restarts (and log file)."""
    table = Table(title=f"stateline on {data_dir}", title_justify="left", expand=False)
    columns = ("role", "id", "pid", "address", "state", "restarts", "log")
    for name in columns if show_log else columns[:-1]:
        table.add_column(name, no_wrap=name != "log",
                         justify="right" if name in ("pid", "restarts") else "left")
    rows = sorted(processes, key=lambda p: (ROLE_ORDER.get(str(p.get("role")), 9),
                                            _id_key(str(p.get("id")))))
    for p in rows:
        state = str(p.get("state", ""))
        log = str(p.get("log", ""))
        if log.startswith(data_dir.rstrip("/") + "/"):
            log = log[len(data_dir.rstrip("/")) + 1:]
        cells: list[str | Text] = [
            str(p.get("role", "")), str(p.get("id", "")),
            str(p.get("pid") or "-"), str(p.get("address", "")),
            Text(state, style=STATE_STYLES.get(state, "")),
            str(p.get("restarts", 0)),
        ]
        table.add_row(*cells, *([log] if show_log else []))
    return table


def fitted_table(console: Console, processes: Sequence[Mapping[str, Any]],
                 data_dir: str) -> tuple[Table, bool]:
    """The table for ``console``'s width, and whether it kept the log column."""
    table = process_table(processes, data_dir)
    # Measured unconstrained: rich clamps a measurement to the width it is given.
    unbounded = console.options.update_width(10_000)
    if console.measure(table, options=unbounded).maximum <= console.width:
        return table, True
    return process_table(processes, data_dir, show_log=False), False


def logs_line(data_dir: str) -> str:
    """Where the logs are, for below a table printed without its log column."""
    return f"logs     {data_dir.rstrip('/')}/logs/<id>.log"


def guide(status: Mapping[str, Any], data_dir: str) -> str:
    """Where to go next: the gateway URL, a few curl lines and the other commands."""
    url = status.get("gateway_url", "")
    flag = "" if data_dir in (".stateline", "./.stateline") else f" --data-dir {data_dir}"
    return "\n".join([
        f"[bold]gateway[/]  {url}      (every /api/... request goes round robin to the apps)",
        f"[bold]redis[/]    {status.get('redis_url', '')}" + (
            f"   (password in {data_dir.rstrip('/')}/redis.secret; "
            "`stateline status --env` prints the URL with it)"
            if ":***@" in str(status.get("redis_url", "")) else ""),
        f"[bold]database[/] {status.get('database_url', '')}",
        f"[bold]blobs[/]    {status.get('blob_url', '')}",
        f"[bold]logs[/]     {data_dir.rstrip('/')}/logs/<id>.log",
        "",
        "try:",
        f"  curl -i '{url}/api/calc/add?a=2&b=3'",
        f"  curl -X POST {url}/api/counter/incr",
        f"  curl -X POST {url}/api/users -H 'content-type: application/json' "
        "-d '{\"name\": \"Ada\", \"email\": \"ada@example.com\"}'",
        f"  stateline status{flag}   |   stateline scale apps=5{flag}   |   "
        f"stateline kill app-1{flag}   |   stateline down{flag}",
        "",
        "Ctrl-C stops everything.",
    ])
