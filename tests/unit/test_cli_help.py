"""``--help`` works for every command and subcommand, found by walking the click tree.

A new command is checked without being listed here; a help text that rich
reads as markup (``[/path]``) fails here instead of in a user's terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from stateline.cli import _register_all, app


def command_paths() -> Iterator[tuple[str, ...]]:
    _register_all()
    root = typer.main.get_command(app)

    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        # Duck-typed: typer may bring its own copy of click, whose Group is not click.Group.
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    yield from walk(root, ())


PATHS = list(command_paths())


def test_the_walk_finds_every_top_level_command() -> None:
    found = {p[0] for p in PATHS if len(p) == 1}
    assert {"up", "status", "scale", "kill", "restart", "down", "gateway", "app", "lint",
            "verify", "bench", "experiment", "report"} <= found


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "stateline")
def test_help_exits_0_with_text(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output.strip()) > 40
