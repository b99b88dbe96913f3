"""Containers a project hangs on its app object (`app.token_map = {}`).

Flask and Quart apps accept any attribute, and projects use that to keep tables
next to the app: `app.token_map = {}` in the factory, then `app.token_map[key] =
token` or `current_app.seen.add(x)` in a view. The app object lives as long as
the worker process, so such a table is per-process state exactly like
`app.config[...]` written per request (SL116), but its name is the project's own.

Only names the project itself gives a mutable container somewhere count; the
framework's own attributes (`app.url_map`, `app.jinja_env`, `app.view_functions`)
are never given one by the project, so they stay silent. Whether the receiver at a
write is really an app object is decided by `Scope.is_app` at that write.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from stateline.lint.values import CONTAINERS

if TYPE_CHECKING:
    from stateline.lint.resolve import Project

# receivers that can name an app object where the attribute is given its container
_APP_TAILS = ("app", "application", "current_app")


def _app_like(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in _APP_TAILS or node.id.endswith("_app")
    return isinstance(node, ast.Attribute) and node.attr in _APP_TAILS


def container_attrs(project: Project) -> frozenset[str]:
    """Attribute names given a mutable container on an app-like receiver anywhere in
    the project (`app.token_map = {}`, `self.app.seen = set()`)."""
    out: set[str] = set()
    for mod in project.modules:
        tree = mod.src.tree
        if tree is None or "app." not in mod.src.text:
            continue
        for n in ast.walk(tree):
            if not isinstance(n, ast.Assign | ast.AnnAssign) or n.value is None:
                continue
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and _app_like(t.value) and \
                        project.classify(mod, n.value) in CONTAINERS:
                    out.add(t.attr)
    return frozenset(out)
