"""Choosing compiled or pure Python for the data plane, and the stale-build guard."""

from __future__ import annotations

import json
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from stateline.gateway import native

MODULES = ("alpha", "beta")


def _package(tmp_path: Path, *, built: tuple[str, ...] = MODULES, manifest: bool = True) -> Path:
    """A fake package: sources, .pxd files, 'extensions' and a manifest as setup.py writes it."""
    for m in MODULES:
        (tmp_path / f"{m}.py").write_text(f"NAME = {m!r}\n")
        (tmp_path / f"{m}.pxd").write_text("cdef int x\n")
    for m in built:
        (tmp_path / f"{m}{EXTENSION_SUFFIXES[0]}").write_bytes(b"\x7fELF")
    if manifest:
        sources = {m: native.source_hash(tmp_path, m) for m in built}
        (tmp_path / native.MANIFEST).write_text(json.dumps({"sources": sources}))
    return tmp_path


def test_matching_build_runs_compiled(tmp_path: Path) -> None:
    mode, _ = native.decide(_package(tmp_path), MODULES, pure_forced=False)
    assert mode == native.COMPILED


def test_edited_source_after_build_runs_pure(tmp_path: Path) -> None:
    d = _package(tmp_path)
    (d / "beta.py").write_text("NAME = 'edited'\n")
    mode, reason = native.decide(d, MODULES, pure_forced=False)
    assert mode == native.PURE
    assert reason.startswith("stale build") and "beta" in reason and "alpha" not in reason


def test_edited_pxd_after_build_runs_pure(tmp_path: Path) -> None:
    d = _package(tmp_path)
    (d / "alpha.pxd").write_text("cdef long x\n")
    assert native.decide(d, MODULES, pure_forced=False)[0] == native.PURE


def test_missing_manifest_counts_as_stale(tmp_path: Path) -> None:
    mode, reason = native.decide(_package(tmp_path, manifest=False), MODULES, pure_forced=False)
    assert (mode, reason.split(":")[0]) == (native.PURE, "stale build")


def test_partial_build_runs_pure(tmp_path: Path) -> None:
    mode, reason = native.decide(_package(tmp_path, built=("alpha",)), MODULES, pure_forced=False)
    assert mode == native.PURE
    assert "beta" in reason


def test_no_extensions_runs_pure(tmp_path: Path) -> None:
    mode, reason = native.decide(_package(tmp_path, built=()), MODULES, pure_forced=False)
    assert mode == native.PURE and "no compiled extensions" in reason


def test_environment_variable_forces_pure(tmp_path: Path) -> None:
    assert native.decide(_package(tmp_path), MODULES, pure_forced=True)[0] == native.PURE
    assert native.pure_requested({"STATELINE_PURE_PYTHON": "1"})
    assert not native.pure_requested({"STATELINE_PURE_PYTHON": "0"})
    assert not native.pure_requested({})


def test_reported_mode_matches_the_modules_actually_loaded() -> None:
    from stateline.gateway import client_protocol, proxy

    for module in (proxy, client_protocol):
        compiled = not module.__file__.endswith(".py")
        assert compiled == (native.mode == native.COMPILED), (module.__file__, native.reason)
    assert native.describe()["proxy_module"] == Path(proxy.__file__).name
    assert f"{native.PACKAGE}.proxy" in sys.modules
