"""The `stateline verify` command (filled in by its package)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add `stateline verify` to the `stateline` command."""
