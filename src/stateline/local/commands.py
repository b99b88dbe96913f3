"""``stateline up | status | scale | kill | restart | down``: run it all on one machine.

``up`` is the supervisor in the foreground; the other commands talk to it over
the control socket in the data dir, so they work from any terminal that names
the same data dir: the same directory (the default ``.stateline`` is
relative), ``--data-dir DIR`` or ``STATELINE_DATA_DIR``.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from stateline.local.control import ControlClient, ControlError
from stateline.local.limits import apps_problem, port_problem, shards_problem
from stateline.local.lock import DataDirBusy, DataDirLock
from stateline.settings import Settings

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Where state, logs and the control socket live "
    "(env STATELINE_DATA_DIR; default .stateline).")]


AsJson = Annotated[bool, typer.Option(
    "--json", help="Print the supervisor's answer as JSON (for scripts).")]


def _echo_json(answer: dict[str, object]) -> None:
    typer.echo(json.dumps(answer, indent=2))


def _error(message: str) -> None:
    # soft_wrap: a path in an error must stay copy-pasteable, not be folded at 80 columns.
    # escape: a message may quote log lines, whose "[...]" is not rich markup.
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}")


def _usage_error(message: str) -> typer.Exit:
    """A bad argument: one line on stderr and exit status 2, like any usage error."""
    _error(message)
    return typer.Exit(2)


def _data_dir(data_dir: Path | None) -> Path:
    return Settings.load(data_dir=data_dir).data_dir


def _call(data_dir: Path | None, request: dict[str, object],
          as_json: bool = False) -> dict[str, object]:
    """The supervisor's answer; a refusal is a one-line error (with ``--json``: a JSON
    ``{"ok": false, "error": {"code", "message"}}`` on stdout, for scripts) and exit 1."""
    try:
        return ControlClient(_data_dir(data_dir)).call(request)
    except ControlError as exc:
        if as_json:
            _echo_json({"ok": False, "error": {"code": exc.code, "message": exc.message}})
        else:
            _error(exc.message)
        raise typer.Exit(1) from None


def up(
    port: Annotated[int | None, typer.Option(
        "--port", help="Gateway port on 127.0.0.1, 1-65535 (default 8080).")] = None,
    apps: Annotated[int | None, typer.Option(
        "--apps", help="How many app instances to start, 1-64 (default 3).")] = None,
    data_dir: DataDir = None,
    shards: Annotated[int | None, typer.Option(
        "--shards", help="How many rooms shards to start, 0-16 (default 3; 0: no rooms).")
    ] = None,
    ui_port: Annotated[int | None, typer.Option(
        "--ui-port", help="Dashboard port on 127.0.0.1 (default the gateway port + 1).")] = None,
    no_ui: Annotated[bool, typer.Option(
        "--no-ui", help="Do not serve the dashboard.")] = False,
) -> None:
    """Start everything in the foreground: Redis Cluster, SQL, N app instances, the gateway.

    Stores come first (an embedded 6-node Redis Cluster unless STATELINE_REDIS_URL
    is set; a SQLite file unless STATELINE_DATABASE_URL is set), then the app
    instances, then the gateway, each waited on until healthy. Crashed processes
    are restarted with backoff. Ctrl-C stops everything within 10 s; starting
    again on the same data dir keeps all state. Child logs go to DATA_DIR/logs/.

    A dashboard is served on 127.0.0.1 (the gateway port + 1 unless --ui-port);
    `up` prints its address with a one-time token that enables its controls.
    In a terminal the process table updates live.
    """
    from stateline.local.supervisor import Supervisor

    # Checked here, before anything starts, and after the environment is read:
    # STATELINE_PORT / STATELINE_APPS must obey the same bounds as the flags.
    for name in ("STATELINE_PORT", "STATELINE_APPS", "STATELINE_SHARDS"):
        value = os.environ.get(name, "")
        if value and not value.strip().lstrip("-").isdigit():
            raise _usage_error(f"{name} must be a whole number (got {value!r})")
    settings = Settings.load(port=port, apps=apps, data_dir=data_dir, shards=shards)
    if problem := (port_problem(settings.port, "--port" if port is not None else "STATELINE_PORT")
                   or apps_problem(settings.apps, "--apps" if apps is not None
                                   else "STATELINE_APPS")
                   or shards_problem(settings.shards, "--shards" if shards is not None
                                     else "STATELINE_SHARDS")):
        raise _usage_error(problem)
    if ui_port is not None and (problem := port_problem(ui_port, "--ui-port")):
        raise _usage_error(problem)
    if not no_ui and ui_port is None and settings.port == 65535:
        raise _usage_error("the dashboard's default port (gateway port + 1) is past 65535; "
                           "pass --ui-port or --no-ui")
    try:
        code = Supervisor(settings, ui_port=None if no_ui else (ui_port or settings.port + 1)
                          ).run()
    except DataDirBusy as exc:
        _error(str(exc))
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def status(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the raw status as JSON.")] = False,
    as_env: Annotated[bool, typer.Option(
        "--env", help="Print `export STATELINE_REDIS_URL=... STATELINE_DATABASE_URL=...` "
        "lines (with the Redis password) for processes started by hand: "
        "eval \"$(stateline status --env)\".")] = False,
    watch: Annotated[bool, typer.Option(
        "--watch", "-w", help="Keep watching: a live table in a terminal; elsewhere the "
        "table once, then one line per change.")] = False,
    interval: Annotated[float, typer.Option(
        "--interval", help="Seconds between two looks with --watch.")] = 1.0,
) -> None:
    """Show every process the supervisor runs: role, id, pid, address, state, restarts."""
    from stateline.local.table import fitted_table, logs_line

    if watch:
        if as_json or as_env:
            raise _usage_error("--watch cannot be combined with --json or --env")
        if not 0.1 <= interval <= 3600:
            raise _usage_error(f"--interval is 0.1-3600 seconds (got {interval:g})")
        raise typer.Exit(watch_status(_data_dir(data_dir), interval))
    answer = _call(data_dir, {"cmd": "status"})
    if as_env:
        typer.echo(env_lines(answer, _data_dir(data_dir)))
        return
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    processes = answer.get("processes")
    console = Console(highlight=False)
    shown = str(_data_dir(data_dir).resolve())
    table, with_logs = fitted_table(
        console, processes if isinstance(processes, list) else [], shown)
    console.print(table)
    typer.echo(f"gateway  {answer.get('gateway_url')}")
    if answer.get("blob_url"):
        typer.echo(f"blobs    {answer.get('blob_url')}")
    if not with_logs:
        typer.echo(logs_line(shown))


def watch_status(data_dir: Path, interval: float) -> int:
    """``status --watch`` until Ctrl-C (0) or the supervisor goes away (0 after a line)."""
    import asyncio
    import sys

    from stateline.local.live import by_id, changes, live_table, stamp
    from stateline.local.table import fitted_table

    client = ControlClient(data_dir, timeout=30)

    def rows() -> list[dict[str, object]]:
        processes = client.call({"cmd": "status"}).get("processes")
        return processes if isinstance(processes, list) else []

    console = Console(highlight=False)
    shown = str(data_dir.resolve())
    try:
        first = rows()
    except ControlError as exc:
        _error(exc.message)
        return 1
    try:
        if sys.stdout.isatty():
            async def fetch() -> list[dict[str, object]]:
                return await asyncio.to_thread(rows)
            asyncio.run(live_table(console, fetch, shown, interval))
            return 0
        table, _ = fitted_table(Console(highlight=False, width=200), first, shown)
        Console(highlight=False, width=200).print(table)
        sys.stdout.flush()
        seen = by_id(first)
        while True:
            time.sleep(interval)
            now = rows()
            for line in changes(seen, now):
                typer.echo(stamp(line))
            sys.stdout.flush()
            seen = by_id(now)
    except KeyboardInterrupt:
        return 0
    except ControlError:
        typer.echo(stamp("the supervisor stopped"))
        return 0


def logs(
    ids: Annotated[list[str] | None, typer.Argument(
        metavar="ID", help="Only these processes (app-1, gateway, redis-3, ...).")] = None,
    follow_: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing new lines as they are written.")] = False,
    tail: Annotated[int | None, typer.Option(
        "--tail", "-n", help="Start with the last N lines of each log (default all).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Print the processes' logs (DATA_DIR/logs/*.log), each line prefixed with its process id.

    Like `docker compose logs -f`: with -f it follows every log, including the
    logs of instances started later; Ctrl-C stops it. It reads files only, so
    it also works after `stateline up` has stopped.
    """
    import sys

    from stateline.local.logs import LogPrinter, follow, log_files

    logs_dir = _data_dir(data_dir) / "logs"
    wanted = list(ids or [])
    if tail is not None and tail < 0:
        raise _usage_error(f"--tail is 0 or more lines (got {tail})")
    if not follow_:
        if not logs_dir.is_dir():
            _error(f"no logs in {logs_dir.resolve()} (has `stateline up` run on this data dir?)")
            raise typer.Exit(1)
        known = {p.stem for p in log_files(logs_dir, [])}
        if unknown := [i for i in wanted if i not in known]:
            raise _usage_error(f"no log for {', '.join(unknown)}; known: "
                               f"{', '.join(sorted(known)) or 'none'}")
    printer = LogPrinter(sys.stdout, colour=sys.stdout.isatty())
    try:
        follow(logs_dir, wanted, printer, tail, (lambda: True) if follow_ else None)
    except KeyboardInterrupt:
        return


def env_lines(answer: dict[str, object], data_dir: Path) -> str:
    """Shell ``export`` lines that point a hand-started process at this supervisor's stores.

    The status answer shows the Redis URL without its password; the embedded
    cluster's password is read back from the data dir (only its owner can).
    """
    import shlex

    from stateline.local.secret import read_secret

    redis_url = str(answer.get("redis_url") or "")
    processes = answer.get("processes")
    embedded = isinstance(processes, list) and any(
        str(p.get("role", "")).startswith("redis") for p in processes if isinstance(p, dict))
    if ":***@" in redis_url:
        secret = read_secret(data_dir) if embedded else None
        if secret is None:
            raise _usage_error(f"the Redis URL has a password this data dir does not hold "
                               f"(an external STATELINE_REDIS_URL?): {redis_url}")
        redis_url = redis_url.replace(":***@", f":{secret}@", 1)
    lines = [f"export STATELINE_REDIS_URL={shlex.quote(redis_url)}"]
    if answer.get("database_url"):
        lines.append(f"export STATELINE_DATABASE_URL={shlex.quote(str(answer['database_url']))}")
    return "\n".join(lines)


def scale(
    spec: Annotated[str, typer.Argument(
        metavar="apps=N|shards=N",
        help="The number of app instances (apps=5) or rooms shards (shards=4) wanted.")],
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Run N app instances or shards: add some, or remove the highest-numbered ones (drained).

    A shard removed hands its rooms off first (snapshot, release the lease);
    one added takes over the rooms rendezvous hashing now gives it.

    Instances the supervisor gave up on (state failed) are started afresh, so
    `stateline scale apps=N` at the current N also brings failed ones back.
    """
    if spec.partition("=")[0].strip() == "shards":
        shards = parse_scale_shards(spec)
        if isinstance(shards, str):
            raise _usage_error(shards)
        answer = _call(data_dir, {"cmd": "scale", "shards": shards}, as_json)
        if as_json:
            _echo_json(answer)
            return
        typer.echo(f"shards: {answer['shards']}")
        return
    apps = parse_scale(spec)
    if isinstance(apps, str):
        raise _usage_error(apps)
    answer = _call(data_dir, {"cmd": "scale", "apps": apps}, as_json)
    if as_json:
        _echo_json(answer)
        return
    typer.echo(f"apps: {answer['apps']}")


def kill(
    ident: Annotated[str, typer.Argument(
        metavar="ID", help="app-K, shard-K, gateway or redis-K (see `stateline status`).")],
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """SIGKILL one process, as a crash would; the supervisor restarts it.

    For experiments: kill an app instance and watch the gateway route around it,
    or kill a Redis master and watch its replica take over (the killed node
    comes back as a replica).
    """
    answer = _call(data_dir, {"cmd": "kill", "id": ident}, as_json)
    if as_json:
        _echo_json(answer)
        return
    typer.echo(f"killed {ident} (pid {answer['pid']})")


def restart(
    ident: Annotated[str, typer.Argument(
        metavar="ID", help="app-K, gateway or redis-K (see `stateline status`).")],
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Start one process afresh: how a failed one comes back.

    The supervisor gives up on a process that crashes again and again (state
    failed); once its log has told you why and you fixed it, this starts it
    with a clean record and returns when it is healthy. A running app or
    gateway is stopped gracefully first (unlike `kill`, which is a crash).
    """
    answer = _call(data_dir, {"cmd": "restart", "id": ident}, as_json)
    if as_json:
        _echo_json(answer)
        return
    typer.echo(f"restarted {ident} (pid {answer['pid']})")


def parse_scale(spec: str) -> int | str:
    """``apps=N`` as N, or a one-line reason why ``spec`` is not an allowed scale."""
    name, sep, value = spec.partition("=")
    try:
        apps = int(value.strip())
    except ValueError:
        apps = None
    if not sep or name.strip() != "apps" or apps is None:
        return f"write it as apps=N, e.g. `stateline scale apps=5` (got {spec!r})"
    return apps_problem(apps) or apps


def parse_scale_shards(spec: str) -> int | str:
    """``shards=N`` as N, or a one-line reason why it is not an allowed scale."""
    _, _, value = spec.partition("=")
    try:
        shards = int(value.strip())
    except ValueError:
        return f"write it as shards=N, e.g. `stateline scale shards=4` (got {spec!r})"
    return shards_problem(shards) or shards


def down(
    data_dir: DataDir = None,
    wait: Annotated[float, typer.Option(
        "--wait", help="Seconds to wait for everything to stop.")] = 20.0,
    as_json: AsJson = False,
) -> None:
    """Stop the supervisor of DATA_DIR and everything it runs (like Ctrl-C on `up`)."""
    _call(data_dir, {"cmd": "down"}, as_json)
    lock = DataDirLock(_data_dir(data_dir))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            lock.acquire()
        except DataDirBusy:
            time.sleep(0.1)
            continue
        lock.release()
        typer.echo(json.dumps({"stopped": True}) if as_json else "stopped")
        return
    if as_json:
        typer.echo(json.dumps({"stopped": False, "waited_s": wait}))
    typer.echo(f"asked to stop, but still running after {wait:g}s", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``up``, ``status``, ``scale``, ``kill``, ``restart``, ``down``, ``logs``."""
    from stateline.settings import env_names

    environment = ("Environment (a flag wins over its variable): "
                   + ", ".join(env_names()) + ".")
    for command in (up, status, scale, kill, restart, down, logs):
        extra = ({"help": f"{inspect.cleandoc(command.__doc__ or '')}\n\n{environment}"}
                 if command is up else {})
        app.command(command.__name__, **extra)(command)
