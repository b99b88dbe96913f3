"""Per-function facts: one walk over a function body, syntax only.

The walk records what the body binds, writes, calls, reads and returns, without
deciding what any of it refers to; resolve.py and summaries.py interpret the
facts against the module index. Facts are computed on first use, so functions
that request handling never reaches cost nothing beyond their parse.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from stateline.lint.index import FuncInfo

_SKIP = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass
class RawWrite:
    """A syntactic write. op: rebind | setitem | setattr (aug/del flagged in `how`)."""

    op: str
    obj: ast.expr | None  # the object written into (None for rebind)
    node: ast.AST
    name: str  # rebound name or attribute
    value: ast.expr | None
    how: str = "="  # "=", "aug", "del"
    key: ast.expr | None = None  # the subscript of an item write


@dataclass
class Facts:
    globals_decl: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    assigns: dict[str, list[tuple[int, ast.expr | None]]] = field(default_factory=dict)
    writes: list[RawWrite] = field(default_factory=list)
    calls: list[ast.Call] = field(default_factory=list)
    loads_sub: list[ast.Subscript] = field(default_factory=list)
    names_read: set[str] = field(default_factory=set)
    attrs_read: list[ast.Attribute] = field(default_factory=list)
    returns: list[ast.expr] = field(default_factory=list)
    withs: list[tuple[ast.expr, ast.stmt]] = field(default_factory=list)
    guards: list[tuple[str, int, int]] = field(default_factory=list)
    membership: list[ast.expr] = field(default_factory=list)  # X in `k in X` tests
    # `x`/`self.x` tested for None-ness or truth in an `if` → the first such line:
    # written at or after it, a memo (a test after the write is no guard of it)
    memo: dict[str, int] = field(default_factory=dict)
    # `from jobs import enqueue` inside the body: local name → (level, module, attr)
    imports: dict[str, tuple[int, str, str]] = field(default_factory=dict)


def _iterated(node: ast.expr) -> ast.expr:
    """`X.values()`, `X.items()`, `list(X)`, `sorted(X)`, `enumerate(X)` → X."""
    while isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in ("values", "items", "copy") and \
                not node.args:
            node = f.value
        elif isinstance(f, ast.Name) and f.id in ("list", "sorted", "enumerate", "reversed",
                                                   "tuple") and node.args:
            node = node.args[0]
        else:
            break
    return node


def _guard_name(test: ast.expr) -> str | None:
    """`x is None`, `not x`, `x is None or ...` → "x" (a lazy-initialisation guard)."""
    if isinstance(test, ast.BoolOp):
        for v in test.values:
            name = _guard_name(v)
            if name:
                return name
        return None
    if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is | ast.Eq)
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None):
        return test.left.id
    if (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
            and isinstance(test.operand, ast.Name)):
        return test.operand.id
    return None


def _tested(test: ast.expr) -> list[str]:
    """`self.cache is not None`, `not self.cache`, `self.cache` → ["self.cache"]."""
    if isinstance(test, ast.BoolOp):
        return [n for v in test.values for n in _tested(v)]
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _tested(test.operand)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(
            test.ops[0], ast.Is | ast.IsNot) and isinstance(test.comparators[0], ast.Constant) \
            and test.comparators[0].value is None:
        test = test.left
    if isinstance(test, ast.Attribute) and isinstance(test.value, ast.Name):
        return [f"{test.value.id}.{test.attr}"]
    return []


class _Collector:
    def __init__(self, facts: Facts) -> None:
        self.f = facts

    def target(self, t: ast.expr, value: ast.expr | None, how: str, node: ast.AST) -> None:
        f = self.f
        if isinstance(t, ast.Name):
            f.assigns.setdefault(t.id, []).append((t.lineno, value if how == "=" else None))
            f.writes.append(RawWrite("rebind", None, node, t.id, value, how))
        elif isinstance(t, ast.Subscript):
            f.writes.append(RawWrite("setitem", t.value, node, "", value, how, t.slice))
            self.expr(t.value)
            self.expr(t.slice)
        elif isinstance(t, ast.Attribute):
            f.writes.append(RawWrite("setattr", t.value, node, t.attr, value, how))
            self.expr(t.value)
        elif isinstance(t, ast.Tuple | ast.List):
            for e in t.elts:
                self.target(e, None, how, node)
        elif isinstance(t, ast.Starred):
            self.target(t.value, None, how, node)

    def body(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: ast.stmt) -> None:
        f = self.f
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            f.assigns.setdefault(s.name, []).append((s.lineno, None))
            for d in s.decorator_list:
                self.expr(d)
            return
        if isinstance(s, ast.Assign):
            self.expr(s.value)
            for t in s.targets:
                self.target(t, s.value, "=", s)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.expr(s.value)
                self.target(s.target, s.value, "=", s)
        elif isinstance(s, ast.AugAssign):
            self.expr(s.value)
            if isinstance(s.target, ast.Name):
                f.names_read.add(s.target.id)
            self.target(s.target, s.value, "aug", s)
        elif isinstance(s, ast.Delete):
            for t in s.targets:
                self.target(t, None, "del", s)
        elif isinstance(s, ast.Import):
            for a in s.names:
                if a.asname:
                    f.imports[a.asname] = (0, a.name, "")
                else:
                    head = a.name.split(".", 1)[0]
                    f.imports[head] = (0, head, "")
        elif isinstance(s, ast.ImportFrom):
            for a in s.names:
                if a.name != "*":
                    f.imports[a.asname or a.name] = (s.level, s.module or "", a.name)
        elif isinstance(s, ast.Global):
            f.globals_decl.update(s.names)
        elif isinstance(s, ast.Nonlocal):
            f.nonlocals.update(s.names)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                f.returns.append(s.value)
                self.expr(s.value)
        elif isinstance(s, ast.For | ast.AsyncFor):
            self.expr(s.iter)
            # The loop variable is an element of what is iterated: writes through
            # it (`for u in USERS.values(): u["x"] = 1`) write that container.
            element = ast.Subscript(value=_iterated(s.iter), slice=ast.Constant(0),
                                    ctx=ast.Load(), lineno=s.lineno, col_offset=0)
            names = [s.target] if isinstance(s.target, ast.Name) else [
                e for e in getattr(s.target, "elts", ()) if isinstance(e, ast.Name)]
            for n in names:
                self.f.assigns.setdefault(n.id, []).append((n.lineno, element))
            for t in ([] if isinstance(s.target, ast.Name) else getattr(s.target, "elts",
                                                                        [s.target])):
                if not isinstance(t, ast.Name):
                    self.target(t, None, "=", s)
            self.body(s.body)
            self.body(s.orelse)
        elif isinstance(s, ast.With | ast.AsyncWith):
            for item in s.items:
                self.expr(item.context_expr)
                f.withs.append((item.context_expr, s))
                if item.optional_vars is not None:
                    self.target(item.optional_vars, item.context_expr, "=", s)
            self.body(s.body)
        elif isinstance(s, ast.If):
            self.expr(s.test)
            name = _guard_name(s.test)
            if name:
                f.guards.append((name, s.lineno, s.body[-1].end_lineno or s.lineno))
            for name in _tested(s.test):
                f.memo.setdefault(name, s.lineno)
            self.body(s.body)
            self.body(s.orelse)
        else:
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.stmt):
                    self.stmt(child)
                elif isinstance(child, ast.expr):
                    self.expr(child)
                elif isinstance(child, ast.excepthandler | ast.match_case):
                    if isinstance(child, ast.ExceptHandler) and child.name:
                        f.assigns.setdefault(child.name, []).append((child.lineno, None))
                    for sub in ast.iter_child_nodes(child):
                        if isinstance(sub, ast.stmt):
                            self.stmt(sub)
                        elif isinstance(sub, ast.expr):
                            self.expr(sub)

    def expr(self, e: ast.expr) -> None:
        f = self.f
        for n in ast.walk(e):
            if isinstance(n, ast.Call):
                f.calls.append(n)
            elif isinstance(n, ast.Name):
                if isinstance(n.ctx, ast.Load):
                    f.names_read.add(n.id)
            elif isinstance(n, ast.Subscript):
                if isinstance(n.ctx, ast.Load):
                    f.loads_sub.append(n)
            elif isinstance(n, ast.Attribute):
                if isinstance(n.value, ast.Name):
                    f.attrs_read.append(n)
            elif isinstance(n, ast.Compare):
                for op, right in zip(n.ops, n.comparators, strict=False):
                    if isinstance(op, ast.In | ast.NotIn):
                        f.membership.append(right)
            elif isinstance(n, ast.NamedExpr):
                f.assigns.setdefault(n.target.id, []).append((n.lineno, n.value))


def facts_of(fn: FuncInfo) -> Facts:
    """The facts of `fn`, computed once."""
    if fn.facts is None:
        facts = Facts()
        _Collector(facts).body(fn.node.body)
        fn.facts = facts
    return fn.facts
