"""The `stateline verify` command: parse flags, start or name replicas, print the report.

Kept thin on purpose: the replay lives in ``replay.py``, the replicas in
``spawn.py`` and the output in ``report.py``. What this module
owns is the promise to the shell: exit 1 when a difference is found, 0 when
none is, 2 when verification could not be done, and no replica left running
whatever happens (including Ctrl-C and SIGTERM).
"""

from __future__ import annotations

import shutil
import signal
import sys
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

EXIT_USAGE = 2


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _usage(message: str) -> typer.Exit:
    typer.echo(f"stateline verify: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _parse_modes(value: str | None) -> tuple[str, ...]:
    from stateline.verify.replay import MODES

    if value is None:
        return MODES
    aliases = {"a": "single", "b": "round_robin", "c": "restart", "round-robin": "round_robin"}
    modes = tuple(aliases.get(m.strip(), m.strip()) for m in value.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise _usage(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
    return modes


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so that the replicas' `finally` runs.
    raise SystemExit(128 + signum)


def verify_command(
    script: Annotated[
        Path,
        typer.Argument(metavar="SCRIPT", help="Request script (JSON or YAML).",
                       show_default=False),
    ],
    replica: Annotated[
        list[str] | None,
        typer.Option("--replica", metavar="URL",
                     help="Base URL of a running replica (give two or more)."),
    ] = None,
    spawn: Annotated[
        str | None,
        typer.Option("--spawn", metavar="CMD",
                     help="Command that starts one replica; {port} (and {replica}: 1..N) "
                          "are filled in."),
    ] = None,
    replicas: Annotated[
        int, typer.Option("--replicas", min=2, help="How many replicas --spawn starts.")
    ] = 2,
    volatile: Annotated[
        list[str] | None,
        typer.Option("--volatile", metavar="PATH",
                     help="JSON field ignored when comparing (id, items.*.created_at, "
                          "**.instance)."),
    ] = None,
    relative: Annotated[
        list[str] | None,
        typer.Option("--relative", metavar="PATH",
                     help="Numeric field compared as an offset from its first value in "
                          "each replay."),
    ] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.text,
    modes: Annotated[
        str | None,
        typer.Option("--modes", help="Comma-separated subset of single,round_robin,restart."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each response.")
    ] = 10.0,
    startup_timeout: Annotated[
        float,
        typer.Option("--startup-timeout",
                     help="Seconds a spawned replica has to accept connections."),
    ] = 30.0,
    health: Annotated[
        str | None,
        typer.Option("--health", metavar="PATH",
                     help="With --spawn: also wait until GET PATH answers 2xx "
                          "(e.g. /_stateline/health)."),
    ] = None,
) -> None:
    """Replay a request script against one replica, round robin, and across restarts;
    report the first request whose response depends on which process served it."""
    from stateline.verify.replay import Options, verify
    from stateline.verify.report import render_json, render_text
    from stateline.verify.script import ScriptError, load_script
    from stateline.verify.spawn import ReplicaSet, SpawnError, UrlReplica

    replica, volatile, relative = replica or [], volatile or [], relative or []
    if bool(replica) == bool(spawn):
        raise _usage("give either two or more --replica URLs or --spawn 'CMD {port}'")
    if replica and len(replica) < 2:
        raise _usage("give at least two --replica URLs (or use --spawn)")
    if spawn is not None and "{port}" not in spawn:
        raise _usage("the --spawn command must contain {port}")
    for url in replica:
        if not url.startswith(("http://", "https://")):
            raise _usage(f"--replica {url!r} is not an http(s) URL")
    if health is not None and not health.startswith("/"):
        raise _usage("--health must be a path starting with '/'")
    try:
        parsed = load_script(script)
    except ScriptError as exc:
        raise _usage(f"{script}: {exc}") from None
    options = Options(
        volatile=tuple(volatile), relative=tuple(relative), timeout_s=timeout,
        modes=_parse_modes(modes),
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if spawn is not None:
            try:
                with ReplicaSet(spawn, replicas, startup_timeout_s=startup_timeout,
                                health_path=health) as started:
                    report = verify(parsed, started, options)
            except SpawnError as exc:
                typer.echo(f"stateline verify: {exc}", err=True)
                raise typer.Exit(EXIT_USAGE) from None
        else:
            urls = [UrlReplica(url=u.rstrip("/"), label=f"replica {i} ({u.rstrip('/')})")
                    for i, u in enumerate(replica, start=1)]
            report = verify(parsed, urls, options)
    except KeyboardInterrupt:
        typer.echo("stateline verify: interrupted; replicas stopped", err=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if output_format is OutputFormat.json:
        sys.stdout.write(render_json(report))
    else:
        width = shutil.get_terminal_size((120, 24)).columns
        sys.stdout.write(render_text(report, width=max(80, width)))
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    """Add `stateline verify` to the `stateline` command."""
    app.command("verify")(verify_command)
