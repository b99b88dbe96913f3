"""Commands of `stateline.local` (filled in by its package)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's subcommands to the `stateline` command."""
