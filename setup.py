"""Optional compiled data plane: Cython builds of the gateway's hot modules.

All metadata lives in pyproject.toml; this file only adds the extensions. They
are optional: without Cython or a C compiler (or with STATELINE_PURE_PYTHON=1)
the install is pure Python and behaves the same, only slower. See
src/stateline/gateway/native.py for how a process picks one form at import, and
how a stale build (sources edited since) is detected and passed over.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
GATEWAY = HERE / "src" / "stateline" / "gateway"


def _native():
    """stateline.gateway.native loaded by path (stdlib only): one list of hot modules."""
    spec = importlib.util.spec_from_file_location("_stateline_native", GATEWAY / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


native = _native()


def _warn(message: str) -> None:
    print(f"stateline: {message}; the gateway data plane stays pure Python", file=sys.stderr)


def extensions() -> list[Extension]:
    if native.pure_requested():
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        _warn("Cython is not installed")
        return []
    modules = [
        Extension(f"{native.PACKAGE}.{m}",
                  [str(native.source_path(GATEWAY, m).relative_to(HERE))], optional=True)
        for m in native.HOT_MODULES
    ]
    try:
        compiled = cythonize(
            modules,
            compiler_directives={"language_level": 3, "annotation_typing": False},
            quiet=True,
        )
    except Exception as exc:  # a Cython error must not make the package uninstallable
        _warn(f"Cython failed ({exc})")
        return []
    for ext in compiled:
        ext.optional = True  # cythonize() drops it: no C compiler → warn and go on, pure Python
    return compiled


class BuildExt(build_ext):
    """build_ext that records the sources each extension was built from (stale-build guard)."""

    def run(self) -> None:
        super().run()
        if not self.extensions:
            return
        out = Path(self.get_ext_fullpath(f"{native.PACKAGE}.proxy")).parent
        built = [m for m in native.HOT_MODULES
                 if Path(self.get_ext_fullpath(f"{native.PACKAGE}.{m}")).exists()]
        sources = {m: native.source_hash(GATEWAY, m) for m in built}
        out.mkdir(parents=True, exist_ok=True)
        (out / native.MANIFEST).write_text(json.dumps({"sources": sources}, indent=1) + "\n")


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
