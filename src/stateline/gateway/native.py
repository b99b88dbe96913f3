"""Compiled or pure Python: which form of the data plane's hot modules this process runs.

The hot modules (``HOT_MODULES``) are plain Python, readable and runnable as
they are. ``setup.py`` can also compile them with Cython in "pure Python
mode": the ``.pxd`` file next to each adds C types (typed extension classes,
C-level method calls) to the very same ``.py`` source, which takes about half
off the Python work per proxied request. The compiled modules are optional: without a C
compiler or Cython, the install falls back to pure Python.

Importing :mod:`stateline.gateway` calls :func:`select` once, before any hot
module is imported. Pure Python is forced (all hot modules at once, since the
compiled ones refer to each other's C types) when:

- ``STATELINE_PURE_PYTHON`` is set to a non-empty value other than ``0``
  (read by ``setup.py`` too, like aiohttp's ``AIOHTTP_NO_EXTENSIONS``);
- some hot module has no compiled extension (nothing built, or a partial build);
- the build is stale: a ``.py`` or ``.pxd`` changed since the extensions were
  built. ``setup.py`` records a SHA-256 of each module's sources in
  ``MANIFEST``; a mismatch (or a missing manifest) logs a warning and runs the
  current sources uncompiled, so an edit without a rebuild never runs old code.

Hashing the few hot sources at import costs well under a millisecond.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from types import ModuleType

log = logging.getLogger("stateline.gateway")

PACKAGE = "stateline.gateway"
#: Modules compiled by setup.py, in dependency order (their .pxd files cimport each other).
HOT_MODULES = ("clock", "errors", "metrics", "retry", "health", "balancers.round_robin",
               "headers", "routes", "upstream", "pool", "upstream_protocol", "proxy",
               "client_protocol")
MANIFEST = "_native_build.json"
ENV_PURE = "STATELINE_PURE_PYTHON"

COMPILED = "compiled"
PURE = "pure"

mode = PURE
reason = "not selected yet"


def pure_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``STATELINE_PURE_PYTHON`` asks for pure Python (set, and not ``0``)."""
    return environ.get(ENV_PURE, "") not in ("", "0")


def source_path(directory: Path, module: str, suffix: str = ".py") -> Path:
    """Where a hot module's file lives (``module`` is dotted, relative to the package)."""
    *parents, name = module.split(".")
    return directory.joinpath(*parents, name + suffix)


def source_hash(directory: Path, module: str) -> str:
    """SHA-256 over a module's ``.py`` and (when present) ``.pxd`` — what its build reflects."""
    h = hashlib.sha256(source_path(directory, module).read_bytes())
    pxd = source_path(directory, module, ".pxd")
    h.update(b"\0")
    if pxd.exists():
        h.update(pxd.read_bytes())
    return h.hexdigest()


def extension_path(directory: Path, module: str) -> Path | None:
    """The compiled extension this interpreter would import for ``module``, if one exists."""
    for suffix in EXTENSION_SUFFIXES:
        p = source_path(directory, module, suffix)
        if p.exists():
            return p
    return None


def decide(directory: Path, modules: Sequence[str], pure_forced: bool) -> tuple[str, str]:
    """Pure core of :func:`select`: (``COMPILED`` | ``PURE``, reason in words)."""
    if pure_forced:
        return PURE, f"{ENV_PURE} is set"
    built = [m for m in modules if extension_path(directory, m) is not None]
    if not built:
        return PURE, "no compiled extensions (built without Cython or a C compiler)"
    if len(built) < len(modules):
        missing = sorted(set(modules) - set(built))
        return PURE, f"incomplete build: no extension for {', '.join(missing)}"
    try:
        recorded = json.loads((directory / MANIFEST).read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return PURE, f"stale build: no readable {MANIFEST} next to the extensions"
    stale = [m for m in modules if recorded.get(m) != source_hash(directory, m)]
    if stale:
        return PURE, (f"stale build: {', '.join(stale)} changed since the extensions were "
                      "built (rebuild: pip install -e .)")
    return COMPILED, "Cython extensions match their sources"


class _PureFinder(MetaPathFinder):
    """Imports the hot modules from their ``.py`` files, passing over the extensions."""

    def __init__(self, directory: Path, modules: Sequence[str]) -> None:
        self.paths = {f"{PACKAGE}.{m}": source_path(directory, m) for m in modules}

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        p = self.paths.get(fullname)
        return None if p is None else importlib.util.spec_from_file_location(fullname, p)


def select() -> None:
    """Decide once per process, before any hot module is imported (see the module doc)."""
    global mode, reason
    if any(isinstance(f, _PureFinder) for f in sys.meta_path):
        return
    directory = Path(__file__).resolve().parent
    mode, reason = decide(directory, HOT_MODULES, pure_requested())
    if mode == PURE:
        if reason.startswith(("stale", "incomplete")):
            log.warning("gateway data plane: %s; running pure Python", reason)
        if any(extension_path(directory, m) for m in HOT_MODULES):
            sys.meta_path.insert(0, _PureFinder(directory, HOT_MODULES))


def describe() -> dict[str, str]:
    """For logs and ``/_stateline/stats``: the mode, why, and where a hot module came from."""
    proxy = sys.modules.get(f"{PACKAGE}.proxy")
    origin = getattr(proxy, "__file__", None) or "not imported"
    return {"mode": mode, "reason": reason, "proxy_module": os.path.basename(origin)}
