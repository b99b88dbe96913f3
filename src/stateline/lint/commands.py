"""`stateline lint PATH...`: the static accidental-state checker's command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `stateline lint` to the `stateline` command."""
    app.command(name="lint")(lint_command)


def lint_command(
    paths: Annotated[list[Path], typer.Argument(
        metavar="PATH...", help="Files or folders to analyse.")],
    fmt: Annotated[str, typer.Option(
        "--format", "-f", metavar="FORMAT", help="text | json | sarif")] = "text",
    select: Annotated[list[str] | None, typer.Option(
        "--select", metavar="RULES",
        help="Only these rules (ids or names, comma-separated or repeated).")] = None,
    ignore: Annotated[list[str] | None, typer.Option(
        "--ignore", metavar="RULES", help="Skip these rules (ids or names).")] = None,
) -> None:
    """Find state kept in the process that request handling writes (parse only).

    Exit status: 1 when an error-severity finding is reported, 0 otherwise, 2 on
    usage errors (unknown path or rule, bad format).
    """
    from rich.console import Console

    from stateline.lint import lint
    from stateline.lint.report import print_text, to_json, to_sarif
    from stateline.lint.rules import UnknownRuleError
    from stateline.lint.source import PathError

    err = Console(stderr=True)
    if fmt not in ("text", "json", "sarif"):
        err.print(f"error: unknown format {fmt!r} (text, json, sarif)")
        raise typer.Exit(2)
    progress = None
    bar = None
    if sys.stderr.isatty():
        from rich.progress import Progress

        bar = Progress(transient=True, console=err)
        task = bar.add_task("parsing", total=None)
        started = False

        def progress(done: int, total: int) -> None:
            nonlocal started
            if total < 200:
                return
            if not started:
                bar.start()
                started = True
            bar.update(task, completed=done, total=total)
    try:
        result = lint(paths, select=select or (), ignore=ignore or (), progress=progress)
    except (UnknownRuleError, PathError) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    finally:
        if bar is not None:
            bar.stop()
    if fmt == "json":
        typer.echo(to_json(result.findings))
    elif fmt == "sarif":
        typer.echo(to_sarif(result.findings))
    else:
        out = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
        print_text(result.findings, out, result.files, result.lines, len(result.suppressed))
    raise typer.Exit(1 if any(f.severity == "error" for f in result.findings) else 0)
