"""The module index: one walk per parsed file, building what later passes look up.

For every module it records imports (so `from store import USERS as u` can be
followed), top-level bindings (the state cells and what they hold), classes with
their class-level attributes, every function (nested ones and methods too) and
the calls that may register request handlers. Function bodies are analysed
later and only for functions that request handling can reach (see facts.py),
which keeps a whole site-packages within the speed budget.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from stateline.lint.source import SourceFile

if TYPE_CHECKING:
    from stateline.lint.facts import Facts

FRAMEWORK_ROOTS = frozenset({
    "fastapi", "starlette", "flask", "django", "rest_framework", "aiohttp", "quart", "sanic",
    "litestar", "slowapi", "flask_limiter", "flask_session", "ninja",
})
_FRAMEWORK_IMPORT = re.compile(
    r"^[ \t]*(?:from|import)[ \t]+(?:" + "|".join(sorted(FRAMEWORK_ROOTS)) + r")\b", re.MULTILINE)
# Names of calls that can register a handler, a middleware, a background job or
# a limiter. Only statements on lines that mention one are walked for calls;
# plain `str.find` keeps this pre-scan at C speed on large files.
_HOT_CALLS = (
    "add_api_route", "add_route", "add_url_rule", "add_websocket_route",
    "add_api_websocket_route", "add_get", "add_post", "add_put", "add_patch", "add_delete",
    "add_head", "add_options", "add_view", "add_exception_handler", "register_error_handler",
    "register", "Depends", "Security", "add_middleware", "Middleware", "add_task", "submit",
    "start_soon", "add_job", "run_in_executor", "call_soon", "call_later", "run_sync",
    "create_task", "ensure_future", "run_coroutine_threadsafe", "spawn", "Thread", "Process",
    "Timer", "BackgroundTask", "Route", "WebSocketRoute", "path", "re_path", "url", "Limiter",
    "as_view", "middlewares", "exception_handlers", "web.", "StaticFiles", "add_static",
    "connect",
)


def hot_lines(text: str) -> list[int]:
    """Sorted line numbers where a registration-like call or keyword appears."""
    positions: list[int] = []
    for kw in _HOT_CALLS:
        i = text.find(kw)
        n = len(kw)
        while i != -1:
            before = text[i - 1] if i else " "
            j = i + n
            while j < len(text) and text[j] == " ":
                j += 1
            after = text[j] if j < len(text) else ""
            if not (before.isalnum() or before == "_") and (
                    kw.endswith(".") or after in ("(", "=")):
                positions.append(i)
            i = text.find(kw, i + n)
    positions.sort()
    lines: list[int] = []
    line, pos = 1, 0
    for p in positions:
        line += text.count("\n", pos, p)
        pos = p
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
             ast.Match, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(eq=False)
class ClassInfo:
    name: str
    qual: str
    module: ModuleInfo
    node: ast.ClassDef
    attrs: dict[str, ast.expr | None] = field(default_factory=dict)
    methods: dict[str, FuncInfo] = field(default_factory=dict)
    _init_attrs: dict[str, ast.expr | None] | None = None

    @property
    def init_attrs(self) -> dict[str, ast.expr | None]:
        """`self.X = value` bindings made in `__init__` (computed on first use)."""
        if self._init_attrs is None:
            init = self.methods.get("__init__")
            self._init_attrs = _collect_init_attrs(init.node) if init is not None else {}
        return self._init_attrs


@dataclass(eq=False)
class FuncInfo:
    name: str
    qual: str
    module: ModuleInfo
    node: FuncNode
    cls: ClassInfo | None = None
    parent: FuncInfo | None = None
    nested: dict[str, FuncInfo] = field(default_factory=dict)
    facts: Facts | None = None

    @property
    def label(self) -> str:
        return f"{self.cls.name}.{self.name}" if self.cls else self.name

    @property
    def params(self) -> list[str]:
        a = self.node.args
        return [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]


@dataclass(eq=False)
class ModuleInfo:
    name: str
    src: SourceFile
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # local -> (module, attr)
    globals: dict[str, ast.expr | None] = field(default_factory=dict)
    global_lines: dict[str, int] = field(default_factory=dict)
    functions: dict[str, FuncInfo] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    all_funcs: list[FuncInfo] = field(default_factory=list)
    all_classes: list[ClassInfo] = field(default_factory=list)
    calls: list[tuple[ast.Call, FuncInfo | None]] = field(default_factory=list)
    framework: bool = False
    stars: list[str] = field(default_factory=list)  # modules imported with `*`

    @property
    def path(self) -> str:
        return self.src.display

    @property
    def root(self) -> Path:
        return self.src.root

    @property
    def is_package(self) -> bool:
        return self.src.path.stem == "__init__"


def absolute_import(module: ModuleInfo, level: int, target: str | None) -> str:
    """Resolve a relative import (`from ..x import y`) against the module's package."""
    if level == 0:
        return target or ""
    parts = module.name.split(".")
    if not module.is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    base = ".".join(parts)
    if target:
        return f"{base}.{target}" if base else target
    return base


def _bind_target(mod: ModuleInfo, target: ast.expr, value: ast.expr | None) -> None:
    if isinstance(target, ast.Name):
        if target.id not in mod.globals or value is not None:
            mod.globals[target.id] = value
            mod.global_lines.setdefault(target.id, target.lineno)
    elif isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            _bind_target(mod, elt, None)


def _module_stmt(mod: ModuleInfo, stmt: ast.stmt) -> None:
    """Record a top-level statement's bindings (also inside if/try at top level)."""
    if isinstance(stmt, ast.Import):
        for a in stmt.names:
            if a.asname:
                mod.imports[a.asname] = (a.name, "")
            else:
                head = a.name.split(".", 1)[0]
                mod.imports[head] = (head, "")
            mod.framework |= a.name.split(".", 1)[0] in FRAMEWORK_ROOTS
    elif isinstance(stmt, ast.ImportFrom):
        base = absolute_import(mod, stmt.level, stmt.module)
        mod.framework |= base.split(".", 1)[0] in FRAMEWORK_ROOTS
        for a in stmt.names:
            if a.name != "*":
                mod.imports[a.asname or a.name] = (base, a.name)
            else:
                mod.stars.append(base)  # `from .types import *`: a re-export
    elif isinstance(stmt, ast.Assign):
        for t in stmt.targets:
            _bind_target(mod, t, stmt.value)
    elif isinstance(stmt, ast.AnnAssign):
        _bind_target(mod, stmt.target, stmt.value)
    elif isinstance(stmt, ast.If):
        if _is_main_guard(stmt.test):
            return
        for s in (*stmt.body, *stmt.orelse):
            _module_stmt(mod, s)
    elif isinstance(stmt, ast.Try):
        for s in (*stmt.body, *stmt.orelse, *stmt.finalbody):
            _module_stmt(mod, s)
        for h in stmt.handlers:
            for s in h.body:
                _module_stmt(mod, s)
    elif isinstance(stmt, ast.With):
        for s in stmt.body:
            _module_stmt(mod, s)


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__")


class _Walker:
    """One pass over a module: defs with their nesting, and the calls that may
    register handlers. Expressions are walked only on statements whose lines
    match `_HOT`, which keeps indexing cheap on large codebases."""

    def __init__(self, mod: ModuleInfo) -> None:
        self.mod = mod
        self.hot: list[int] = hot_lines(mod.src.text)

    def is_hot(self, node: ast.AST) -> bool:
        hot = self.hot
        if not hot:
            return False
        start = getattr(node, "lineno", 0)
        end = getattr(node, "end_lineno", start) or start
        i = bisect_left(hot, start)
        return i < len(hot) and hot[i] <= end

    def run(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            _module_stmt(self.mod, stmt)
        self.block(tree.body, None, None)

    def block(self, body: list[ast.stmt], func: FuncInfo | None, cls: ClassInfo | None) -> None:
        hot = bool(self.hot)
        for stmt in body:
            if isinstance(stmt, _COMPOUND) or (hot and self.is_hot(stmt)):
                self.stmt(stmt, func, cls)

    def stmt(self, stmt: ast.stmt, func: FuncInfo | None, cls: ClassInfo | None) -> None:
        mod = self.mod
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            owner_q = cls.qual if cls else (func.qual if func else "")
            info = FuncInfo(stmt.name, f"{owner_q}.{stmt.name}" if owner_q else stmt.name,
                            mod, stmt, cls=cls, parent=func)
            mod.all_funcs.append(info)
            if cls is not None:
                cls.methods[stmt.name] = info
            elif func is not None:
                func.nested[stmt.name] = info
            else:
                mod.functions[stmt.name] = info
            for d in stmt.decorator_list:
                self.expr(d, func)
            for d in (*stmt.args.defaults, *stmt.args.kw_defaults):
                if d is not None:
                    self.expr(d, info)
            for a in (*stmt.args.posonlyargs, *stmt.args.args, *stmt.args.kwonlyargs):
                if a.annotation is not None:
                    self.expr(a.annotation, info)
            self.block(stmt.body, info, None)
            return
        if isinstance(stmt, ast.ClassDef):
            owner_q = cls.qual if cls else (func.qual if func else "")
            c = ClassInfo(stmt.name, f"{owner_q}.{stmt.name}" if owner_q else stmt.name,
                          mod, stmt)
            mod.all_classes.append(c)
            if func is None and cls is None:
                mod.classes[stmt.name] = c
            for b in (*stmt.bases, *stmt.decorator_list):
                self.expr(b, func)
            for s in stmt.body:
                if isinstance(s, ast.Assign):
                    for t in s.targets:
                        if isinstance(t, ast.Name):
                            c.attrs[t.id] = s.value
                    self.expr(s.value, func)
                elif isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name):
                    c.attrs[s.target.id] = s.value
                    if s.value is not None:
                        self.expr(s.value, func)
                else:
                    self.stmt(s, func, c)
            return
        if self.is_hot(stmt):
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.stmt):
                    self.stmt(child, func, cls)
                elif isinstance(child, ast.expr):
                    self.expr(child, func)
                else:
                    for sub in ast.iter_child_nodes(child):  # handlers, match cases
                        if isinstance(sub, ast.stmt):
                            self.stmt(sub, func, cls)
                        elif isinstance(sub, ast.expr):
                            self.expr(sub, func)
            return
        # Not a registration: only nested defs (factories, decorator wrappers) matter.
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(stmt, name, ()):
                if isinstance(child, ast.stmt):
                    self.stmt(child, func, cls)
                else:
                    self.block(child.body, func, cls)

    def expr(self, node: ast.expr, func: FuncInfo | None) -> None:
        if not self.is_hot(node):
            return
        calls = self.mod.calls
        for n in ast.walk(node):
            if isinstance(n, ast.Call):
                calls.append((n, func))


def _collect_init_attrs(init: FuncNode) -> dict[str, ast.expr | None]:
    out: dict[str, ast.expr | None] = {}
    if not init.args.args:
        return out
    self_name = init.args.args[0].arg
    for n in ast.walk(init):
        if isinstance(n, ast.Assign | ast.AnnAssign):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                        and t.value.id == self_name):
                    out[t.attr] = n.value
    return out


def build_module(src: SourceFile) -> ModuleInfo:
    assert src.tree is not None
    mod = ModuleInfo(src.module, src)
    # Cheap pre-check: only modules that import a web framework (at top level or
    # inside an app factory) need their function bodies scanned for routes.
    mod.framework = _FRAMEWORK_IMPORT.search(src.text) is not None
    _Walker(mod).run(src.tree)
    return mod
