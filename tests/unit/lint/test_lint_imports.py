"""The house rules of the lint and verify packages, pinned.

The runtime import graph stays acyclic (imports under `if TYPE_CHECKING:` are for
annotations only and do not count), lint never imports verify, and the lint
command line never needs typer or rich at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import stateline

SRC = Path(stateline.__file__).parent


def _runtime_imports(path: Path) -> set[str]:
    """`stateline.*` modules imported at module level, outside `if TYPE_CHECKING:`."""
    out: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if _module_path(full) is not None else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("stateline.")}


def _module_path(name: str) -> Path | None:
    rel = Path(*name.split(".")[1:])
    for cand in (SRC / rel.with_suffix(".py"), SRC / rel / "__init__.py"):
        if cand.exists():
            return cand
    return None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for pkg in ("lint", "verify"):
        for f in sorted((SRC / pkg).glob("*.py")):
            name = f"stateline.{pkg}" if f.stem == "__init__" else f"stateline.{pkg}.{f.stem}"
            graph[name] = {m for m in _runtime_imports(f) if m.startswith(("stateline.lint",
                                                                          "stateline.verify"))}
    return graph


def test_runtime_import_graph_is_acyclic() -> None:
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if dep == "stateline.lint" and node.startswith("stateline.lint."):
                continue  # a submodule importing its package's __init__ finds it loaded
            assert state.get(dep) != 1, f"import cycle: {' → '.join([*path, dep])}"
            if dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])
    assert "stateline.verify.replay" in graph and "stateline.lint.checker" in graph


def test_lint_does_not_depend_on_verify_and_verify_lives_apart() -> None:
    graph = _graph()
    for name, deps in graph.items():
        if name.startswith("stateline.lint"):
            assert not any(d.startswith("stateline.verify") for d in deps), name
    assert not list((SRC / "lint").glob("verify*.py"))


def test_lint_command_modules_import_neither_typer_nor_rich() -> None:
    for name in ("argv", "report", "checker", "__init__", "source"):
        tree = ast.parse((SRC / "lint" / f"{name}.py").read_text())
        top = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import)
               for a in n.names}
        top |= {n.module.split(".")[0] for n in tree.body
                if isinstance(n, ast.ImportFrom) and n.module}
        assert not top & {"typer", "rich", "click"}, name
