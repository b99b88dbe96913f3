"""The stale-build guard on a real build: an edited source runs as Python, with a warning."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import stateline
from stateline.gateway import native

PROBE = ("import stateline.gateway.proxy as p, stateline.gateway.native as n; "
         "print(n.mode, p.__file__)")


def _probe(src: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(src), **env},
                          check=True)


@pytest.fixture
def built_copy(tmp_path: Path) -> Path:
    """A copy of the installed (compiled) package, free to edit."""
    if native.mode != native.COMPILED:
        pytest.skip(f"data plane not compiled here: {native.reason}")
    shutil.copytree(Path(stateline.__file__).parent, tmp_path / "stateline",
                    ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    return tmp_path


def test_unchanged_build_loads_the_extensions(built_copy: Path) -> None:
    mode, path = _probe(built_copy).stdout.split()
    assert mode == native.COMPILED and not path.endswith(".py")


def test_source_edited_after_build_runs_pure_with_a_warning(built_copy: Path) -> None:
    proxy_py = built_copy / "stateline" / "gateway" / "proxy.py"
    proxy_py.write_text(proxy_py.read_text() + "\nEDITED_AFTER_BUILD = True\n")
    out = _probe(built_copy)
    mode, path = out.stdout.split()
    assert (mode, path) == (native.PURE, str(proxy_py))
    assert "stale build: proxy changed" in out.stderr


def test_environment_variable_runs_pure_without_a_warning(built_copy: Path) -> None:
    out = _probe(built_copy, STATELINE_PURE_PYTHON="1")
    assert out.stdout.split()[0] == native.PURE and out.stdout.split()[1].endswith("proxy.py")
    assert "stale" not in out.stderr
