"""``stateline up | status | scale | kill | down``: run it all on one machine.

``up`` is the supervisor in the foreground; the other commands talk to it over
the control socket in the data dir, so they work from any terminal.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stateline.local.control import ControlClient, ControlError
from stateline.local.lock import DataDirBusy, DataDirLock
from stateline.settings import Settings

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Where state, logs and the control socket live "
    "(env STATELINE_DATA_DIR; default .stateline).")]


def _error(message: str) -> None:
    # soft_wrap: a path in an error must stay copy-pasteable, not be folded at 80 columns.
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {message}")


def _data_dir(data_dir: Path | None) -> Path:
    return Settings.load(data_dir=data_dir).data_dir


def _call(data_dir: Path | None, request: dict[str, object]) -> dict[str, object]:
    try:
        return ControlClient(_data_dir(data_dir)).call(request)
    except ControlError as exc:
        _error(exc.message)
        raise typer.Exit(1) from None


def up(
    port: Annotated[int | None, typer.Option(
        "--port", help="Gateway port on 127.0.0.1 (default 8080).")] = None,
    apps: Annotated[int | None, typer.Option(
        "--apps", min=0, max=64, help="How many app instances to start (default 3).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Start everything in the foreground: Redis Cluster, SQL, N app instances, the gateway.

    Stores come first (an embedded 6-node Redis Cluster unless STATELINE_REDIS_URL
    is set; a SQLite file unless STATELINE_DATABASE_URL is set), then the app
    instances, then the gateway, each waited on until healthy. Crashed processes
    are restarted with backoff. Ctrl-C stops everything within 10 s; starting
    again on the same data dir keeps all state. Child logs go to DATA_DIR/logs/.
    """
    from stateline.local.supervisor import Supervisor

    settings = Settings.load(port=port, apps=apps, data_dir=data_dir)
    try:
        code = Supervisor(settings).run()
    except DataDirBusy as exc:
        _error(str(exc))
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def status(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the raw status as JSON.")] = False,
) -> None:
    """Show every process the supervisor runs: role, id, pid, address, state, restarts."""
    from stateline.local.table import process_table

    answer = _call(data_dir, {"cmd": "status"})
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    processes = answer.get("processes")
    Console(highlight=False).print(process_table(
        processes if isinstance(processes, list) else [], str(_data_dir(data_dir).resolve())))
    typer.echo(f"gateway  {answer.get('gateway_url')}")


def scale(
    spec: Annotated[str, typer.Argument(
        metavar="apps=N", help="The number of app instances wanted, e.g. apps=5.")],
    data_dir: DataDir = None,
) -> None:
    """Add or remove app instances; removed ones drain first (SIGTERM, SIGKILL if slow)."""
    name, sep, value = spec.partition("=")
    if not sep or name.strip() != "apps" or not value.strip().isdigit():
        raise typer.BadParameter("write it as apps=N, e.g. `stateline scale apps=5`",
                                 param_hint="apps=N")
    answer = _call(data_dir, {"cmd": "scale", "apps": int(value)})
    typer.echo(f"apps: {answer['apps']}")


def kill(
    ident: Annotated[str, typer.Argument(
        metavar="ID", help="app-K, gateway or redis-K (see `stateline status`).")],
    data_dir: DataDir = None,
) -> None:
    """SIGKILL one process, as a crash would; the supervisor restarts it.

    For experiments: kill an app instance and watch the gateway route around it,
    or kill a Redis master and watch its replica take over (the killed node
    comes back as a replica).
    """
    answer = _call(data_dir, {"cmd": "kill", "id": ident})
    typer.echo(f"killed {ident} (pid {answer['pid']})")


def down(
    data_dir: DataDir = None,
    wait: Annotated[float, typer.Option(
        "--wait", help="Seconds to wait for everything to stop.")] = 20.0,
) -> None:
    """Stop the supervisor of DATA_DIR and everything it runs (like Ctrl-C on `up`)."""
    _call(data_dir, {"cmd": "down"})
    lock = DataDirLock(_data_dir(data_dir))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            lock.acquire()
        except DataDirBusy:
            time.sleep(0.1)
            continue
        lock.release()
        typer.echo("stopped")
        return
    typer.echo(f"asked to stop, but still running after {wait:g}s", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``up``, ``status``, ``scale``, ``kill`` and ``down`` to the `stateline` command."""
    for command in (up, status, scale, kill, down):
        app.command(command.__name__)(command)
