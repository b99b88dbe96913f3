"""`stateline lint` in the typer app: listed in `stateline --help`, run by argv.py.

`stateline.cli.main` sends `stateline lint ...` straight to the lean argparse
command (argv.py) before typer is imported; this registration is what the
typer app shows and what runs if the app is invoked another way (tests,
`typer.testing`). Both call `argv.run`, so they behave the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stateline.lint.argv import DESCRIPTION, EPILOG


def register(app: typer.Typer) -> None:
    """Add `stateline lint` to the `stateline` command."""
    app.command(name="lint", help=f"{DESCRIPTION}\n\n{EPILOG}")(lint_command)


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
    from stateline.lint.argv import run

    raise typer.Exit(run(paths, fmt, select or (), ignore or ()))
