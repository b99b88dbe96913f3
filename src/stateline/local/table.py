"""What ``stateline up`` and ``stateline status`` print: one table, one short guide.

Both read the same ``status`` dict the control socket answers, so the table a
user sees at start-up and the one ``stateline status`` prints later agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

STATE_STYLES = {"up": "green", "starting": "yellow", "backoff": "yellow",
                "draining": "yellow", "failed": "bold red", "down": "red", "stopped": "dim"}
ROLE_ORDER = {"gateway": 0, "app": 1, "redis-master": 2, "redis-replica": 3, "redis": 4}


def _id_key(ident: str) -> tuple[str, int]:
    prefix, _, number = ident.rpartition("-")
    return (prefix, int(number)) if number.isdigit() else (ident, 0)


def process_table(processes: Sequence[Mapping[str, Any]], data_dir: str) -> Table:
    """The processes as a table: role, id, pid, address, state, restarts, log file."""
    table = Table(title=f"stateline on {data_dir}", title_justify="left", expand=False)
    for name in ("role", "id", "pid", "address", "state", "restarts", "log"):
        table.add_column(name, no_wrap=name != "log",
                         justify="right" if name in ("pid", "restarts") else "left")
    rows = sorted(processes, key=lambda p: (ROLE_ORDER.get(str(p.get("role")), 9),
                                            _id_key(str(p.get("id")))))
    for p in rows:
        state = str(p.get("state", ""))
        log = str(p.get("log", ""))
        if log.startswith(data_dir.rstrip("/") + "/"):
            log = log[len(data_dir.rstrip("/")) + 1:]
        table.add_row(
            str(p.get("role", "")), str(p.get("id", "")),
            str(p.get("pid") or "-"), str(p.get("address", "")),
            Text(state, style=STATE_STYLES.get(state, "")),
            str(p.get("restarts", 0)), log,
        )
    return table


def guide(status: Mapping[str, Any], data_dir: str) -> str:
    """Where to go next: the gateway URL, a few curl lines and the other commands."""
    url = status.get("gateway_url", "")
    flag = "" if data_dir in (".stateline", "./.stateline") else f" --data-dir {data_dir}"
    return "\n".join([
        f"[bold]gateway[/]  {url}      (every /api/... request goes round robin to the apps)",
        f"[bold]redis[/]    {status.get('redis_url', '')}",
        f"[bold]database[/] {status.get('database_url', '')}",
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
