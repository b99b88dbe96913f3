"""What users of such tools expect from the CLI (issue 15): no type tags in --help,
``up --help`` naming its variables, ``--json`` on the control commands, completion,
and a tour whose image example uses a file the repository ships."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from stateline.cli import build_app
from stateline.settings import env_names

ROOT = Path(__file__).resolve().parents[2]
app = build_app()
COMMAND = typer.main.get_command(app)


def _paths(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        found += _paths(sub, (*path, name))
    return found


PATHS = _paths(COMMAND)


def _help(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], catch_exceptions=False,
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "stateline")
def test_help_has_no_type_tags(path: tuple[str, ...]) -> None:
    tags = re.findall(r"<(?:bool|int|float|str|path|file|list\[[^\]]*\])>", _help(*path))
    assert not tags, tags


def test_up_help_names_every_settings_variable() -> None:
    text = " ".join(_help("up").split())
    names = env_names()
    assert "STATELINE_PORT" in names and "STATELINE_REDIS_URL" in names
    for name in names:
        assert name in text, name


@pytest.mark.parametrize("command", ["scale", "kill", "restart", "down"])
def test_control_commands_take_json(command: str) -> None:
    assert "--json" in _help(command)


def test_completion_script_for_bash() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "bash"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "complete" in result.output and "stateline" in result.output.lower()


def test_readme_tour_image_is_shipped() -> None:
    readme = (ROOT / "README.md").read_text()
    paths = re.findall(r"--data-binary @(\S+)", readme)
    assert paths, "the tour has no image example any more"
    for p in paths:
        image = ROOT / p
        assert image.is_file(), p
        assert image.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG, as the example says
