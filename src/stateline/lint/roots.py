"""Import roots the way Python would find them, for resolving `import x.y` across a tree.

A module's own name comes from climbing `__init__.py` packages (source.py). That
misses what `sys.path` adds in practice: the folder that was linted, a `src/`
layout, the folder of the entry module (`python main.py`, `manage.py`), and the
package folders named in `pyproject.toml` / `setup.cfg`. Each such root gives
every module below it one more dotted name (namespace packages included: no
`__init__.py` is needed), and `Project.find_module` tries them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

ENTRY_FILES = frozenset({"main.py", "app.py", "manage.py", "wsgi.py", "asgi.py", "run.py",
                         "server.py", "application.py", "__main__.py"})


def _declared(folder: Path) -> list[Path]:
    """Package roots named by pyproject.toml / setup.cfg in `folder`."""
    out: list[Path] = []
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        try:
            doc = tomllib.loads(pyproject.read_text(encoding="utf-8", errors="replace"))
        except (tomllib.TOMLDecodeError, OSError):
            doc = {}
        tool = doc.get("tool", {}) if isinstance(doc, dict) else {}
        st = tool.get("setuptools", {}) if isinstance(tool, dict) else {}
        if isinstance(st, dict):
            find = st.get("packages", {})
            where = find.get("find", {}).get("where", []) if isinstance(find, dict) else []
            out.extend(folder / w for w in where if isinstance(w, str))
            pdir = st.get("package-dir", {})
            if isinstance(pdir, dict) and isinstance(pdir.get(""), str):
                out.append(folder / pdir[""])
        poetry = tool.get("poetry", {}) if isinstance(tool, dict) else {}
        for pkg in poetry.get("packages", []) if isinstance(poetry, dict) else []:
            if isinstance(pkg, dict) and isinstance(pkg.get("from"), str):
                out.append(folder / pkg["from"])
    setup_cfg = folder / "setup.cfg"
    if setup_cfg.is_file():
        import configparser

        cp = configparser.ConfigParser()
        try:
            cp.read(setup_cfg, encoding="utf-8")
        except (configparser.Error, OSError):
            return out
        pdir = cp.get("options", "package_dir", fallback="").strip()
        for part in pdir.replace("\n", ";").split(";"):
            key, _, value = part.partition("=")
            if value.strip() and not key.strip():
                out.append(folder / value.strip())
        where = cp.get("options.packages.find", "where", fallback="").strip()
        if where:
            out.append(folder / where)
    return out


def import_roots(paths: Iterable[str | os.PathLike[str]], files: Iterable[Path]) -> list[Path]:
    """Candidate `sys.path` entries for the linted `paths` and their `files`."""
    roots: list[Path] = []
    for raw in paths:
        p = Path(os.path.abspath(raw))
        folder = p if p.is_dir() else p.parent
        roots.append(folder)
        if (folder / "src").is_dir():
            roots.append(folder / "src")
        for up in (folder, *list(folder.parents)[:2]):
            roots.extend(_declared(up))
    for f in files:
        if f.name in ENTRY_FILES:
            roots.append(Path(os.path.abspath(f)).parent)
    seen: set[Path] = set()
    out = []
    for r in roots:
        r = Path(os.path.abspath(r))
        if r not in seen and r.is_dir():
            seen.add(r)
            out.append(r)
    return out


def dotted_under(path: Path, root: Path) -> str | None:
    """`root/a/b/c.py` → "a.b.c", `root/a/__init__.py` → "a"; None when not under root."""
    try:
        rel = Path(os.path.abspath(path)).relative_to(root)
    except ValueError:
        return None
    parts = list(rel.parts)
    if not parts or not parts[-1].endswith(".py"):
        return None
    last = parts[-1][:-3]
    parts = parts[:-1] if last == "__init__" else [*parts[:-1], last]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)
