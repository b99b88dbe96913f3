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
import os
import shutil
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


#: Appended after Python's own CFLAGS (-g -O3), so they win: no debug info (-g0, the
#: largest part of the C compiler's time on Cython's output) and -O2, which measures
#: the same per request as -O3 here (the hot path is Python object calls, not loops).
COMPILE_ARGS = ["-O2", "-g0"]


def say(message: str) -> None:
    """A build line the user sees: pip hides a backend's output unless ``-v``, so the
    terminal (when there is one) gets it directly, and stderr (``pip -v``, logs) too."""
    line = f"stateline: {message}\n"
    sys.stderr.write(line)
    try:
        with open("/dev/tty", "w") as tty:
            tty.write(line)
    except OSError:
        pass


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
                  [str(native.source_path(GATEWAY, m).relative_to(HERE))], optional=True,
                  extra_compile_args=COMPILE_ARGS)
        for m in native.HOT_MODULES
    ]
    say(f"Cython: {len(modules)} gateway modules ({', '.join(native.HOT_MODULES)})")
    try:
        compiled = cythonize(
            modules,
            compiler_directives={"language_level": 3, "annotation_typing": False},
            quiet=True,
            nthreads=os.cpu_count() or 1,  # Cython → C for several modules at once
        )
    except Exception as exc:  # a Cython error must not make the package uninstallable
        _warn(f"Cython failed ({exc})")
        return []
    for ext in compiled:
        ext.optional = True  # cythonize() drops it: no C compiler → warn and go on, pure Python
    return compiled


class BuildExt(build_ext):
    """build_ext that records the sources each extension was built from (stale-build guard)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if not self.parallel:  # `build_ext -j N` / `--parallel N` still wins
            self.parallel = os.cpu_count() or 1

    def build_extension(self, ext: Extension) -> None:
        target = Path(self.get_ext_fullpath(ext.name))
        module = ext.name.removeprefix(native.PACKAGE + ".")
        if self._reuse(module, target):
            say(f"{module}: sources unchanged since the last build, not recompiled")
            return
        say(f"compiling {module} (Cython → C → {target.suffix})")
        super().build_extension(ext)

    def _reuse(self, module: str, target: Path) -> bool:
        """Copy the in-tree build of ``module`` when the sources match the manifest.

        ``pip install -e .`` builds into a fresh temporary folder every time, so
        setuptools' own up-to-date check never sees the earlier build and recompiles
        everything; the editable install's extensions in src/ and their manifest say
        whether that work would be the same.
        """
        built = native.extension_path(GATEWAY, module)
        if built is None or built.resolve() == target.resolve():
            return built is not None and self._recorded(module)
        if not self._recorded(module):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)
        return True

    @staticmethod
    def _recorded(module: str) -> bool:
        """Whether the in-tree build is current: every hot module, not only ``module``.

        All or nothing, because the .pxd files cimport each other: a change to one
        module's declarations changes the C code of those that cimport it.
        """
        del module
        try:
            sources = json.loads((GATEWAY / native.MANIFEST).read_text())["sources"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return all(sources.get(m) == native.source_hash(GATEWAY, m) for m in native.HOT_MODULES)

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
