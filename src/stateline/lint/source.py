"""Finding, reading and parsing the files to analyse; suppression comments.

Every file is read and parsed exactly once here; later passes share the tree.
A file that does not parse becomes an SL001 finding and is left out of the
index, so one broken file never hides the findings of the others.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "node_modules",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist", ".eggs",
})

_TEMPLATE = re.compile(r"\{\{[^{}\n]*\}\}|\{%-?[ \t]*(if|for|set|macro|include|block|raw|"
                       r"endif|endfor|else|elif)\b")
_ALLOW = re.compile(r"#\s*stateline:\s*allow\[([^\]]*)\]\s*(.*)$")


@dataclass
class Suppression:
    rules: frozenset[str]
    reason: str


@dataclass
class SourceFile:
    """One parsed file. `module` is its dotted name below `root` (the highest folder
    that is still a package, or its own folder)."""

    path: Path
    display: str
    module: str
    root: Path
    text: str
    lines: list[str]
    tree: ast.Module | None = None
    error: SyntaxError | None = None
    # Newer-Python syntax (see compat.py): the version the file needs, and whether
    # it was read through the compatibility rewrite (True) or left out (False).
    needs: str = ""
    rewritten: bool = False
    features: tuple[str, ...] = ()
    # Python 2 constructs (py2.py) when the file is Python 2 code: not analysed, and
    # summed up in one project-level note instead of an SL001.
    python2: tuple[str, ...] = ()
    # A Jinja/cookiecutter template with a .py name (`{{ name }}`, `{% for %}`) that
    # does not parse: not Python yet, summed up in one note like Python 2 files.
    template: bool = False
    suppressions: dict[int, Suppression] = field(default_factory=dict)

    def line_text(self, line: int) -> str:
        """The source line, stripped of indentation and of a trailing comment."""
        if 1 <= line <= len(self.lines):
            text = self.lines[line - 1].strip()
            cut = text.find("  #")
            return text[:cut].rstrip() if cut > 0 else text
        return ""


class PathError(ValueError):
    """A path given on the command line that does not exist."""


def discover(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """All .py files under the given files/folders, sorted, skipping tool folders."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise PathError(f"no such file or directory: {raw}")
        if p.is_file():
            found.append(p)
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS
                                 and not d.endswith(".egg-info"))
            found.extend(Path(dirpath, f) for f in sorted(filenames) if f.endswith(".py"))
    seen: set[Path] = set()
    unique = []
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


_PACKAGES: dict[Path, tuple[tuple[str, ...], Path]] = {}


def _package_of(folder: Path) -> tuple[tuple[str, ...], Path]:
    """(dotted parts of `folder` as a package, import root); memoised per folder."""
    hit = _PACKAGES.get(folder)
    if hit is None:
        if (folder / "__init__.py").exists() and folder.parent != folder:
            parts, root = _package_of(folder.parent)
            hit = ((*parts, folder.name), root)
        else:
            hit = ((), folder)
        _PACKAGES[folder] = hit
    return hit


def module_name(path: Path) -> tuple[str, Path]:
    """Dotted module name and import root: climb while the folder is a package."""
    path = Path(os.path.abspath(path))
    parts, root = _package_of(path.parent)
    if path.stem != "__init__":
        parts = (*parts, path.stem)
    return ".".join(parts) or path.parent.name, root


def display_path(path: Path, cwd: Path) -> str:
    try:
        return os.path.relpath(os.path.abspath(path), cwd)
    except ValueError:  # other drive on Windows
        return str(path)


def parse_suppressions(lines: list[str]) -> dict[int, Suppression]:
    out: dict[int, Suppression] = {}
    for i, line in enumerate(lines, start=1):
        if "stateline:" not in line:
            continue
        m = _ALLOW.search(line)
        if m:
            rules = frozenset(t.strip() for t in m.group(1).split(",") if t.strip())
            out[i] = Suppression(rules, m.group(2).strip())
    return out


def load(path: Path, cwd: Path) -> SourceFile:
    """Read and parse one file (never imports or runs it)."""
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    lines = text.splitlines()
    module, root = module_name(path)
    src = SourceFile(path=path, display=display_path(path, cwd), module=module, root=root,
                     text=text, lines=lines)
    try:
        src.tree = ast.parse(raw, filename=str(path))
    except (SyntaxError, ValueError) as exc:
        err = exc if isinstance(exc, SyntaxError) else SyntaxError(str(exc))
        _newer_syntax(src, err)
    if "stateline:" in text:
        src.suppressions = parse_suppressions(lines)
    return src


def _newer_syntax(src: SourceFile, err: SyntaxError) -> None:
    """A file this interpreter cannot parse: read it through the compatibility
    rewrite if it uses newer syntax (compat.py); otherwise it is a syntax error."""
    from stateline.lint.compat import rewrite

    rw = rewrite(src.text)
    if not rw.features:
        from stateline.lint.py2 import python2_features

        src.error = err
        src.python2 = python2_features(src.text, str(err.msg or ""))
        if not src.python2 and _TEMPLATE.search(src.text):
            src.template = True  # `{{ name }}`, `{% if x %}`: a code generator's template
        return
    src.needs = rw.needs
    src.features = tuple(rw.features)
    try:
        src.tree = ast.parse(rw.text, filename=str(src.path))
        src.rewritten = True
    except (SyntaxError, ValueError):
        src.tree = None  # not analysed; reported as a note, never as SL001


def load_all(paths: Iterable[Path], cwd: Path) -> Iterator[SourceFile]:
    for p in paths:
        yield load(p, cwd)
