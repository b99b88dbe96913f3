"""Objects handed in: what a parameter holds when every caller passes the same cell.

Services wire long-lived objects together at start-up: `Service(manager)`,
`set_alerts(alerts)` in a lifespan hook, `get_alerts().registry` in a route.
These functions follow such values through constructor and setter arguments
(found at their call sites) and through the attributes `__init__` stores, so a
module-level manager is the same state cell wherever it is reached.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from stateline.lint.calls import bind_args, callees, first_param
from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo, ModuleInfo
from stateline.lint.model import Cell
from stateline.lint.resolve import called_name, module_level

if TYPE_CHECKING:
    from stateline.lint.scope import Scope


def member_cell(scope: Scope, fn: FuncInfo, node: ast.Attribute, line: int, depth: int
                ) -> Cell | None:
    """`service.manager` where `service` is a long-lived instance whose class keeps
    what its constructor was given: `Service(manager)` → `scope.manager = manager`.
    The attribute is then that object (a module-level manager), so its methods run
    with `self` bound to it."""
    if isinstance(node.value, ast.Name) and node.value.id == first_param(fn):
        return None  # `scope.x`: decided when `self` is bound
    inner = scope.ref(fn, node.value, line, depth + 1)
    if inner is None or not isinstance(inner[0], Cell) or inner[1]:
        return None
    cls = scope.p.class_of_kind(inner[0].vkind)
    if cls is None:
        return None
    value = scope.init_attrs(cls).get(node.attr)
    init = scope.p.find_method(cls, "__init__")
    if isinstance(value, ast.Name) and init is not None and value.id in init.params:
        return arg_value(scope, init, value.id, bound=True)
    if isinstance(value, ast.Call):
        kind = scope.p.classify(cls.module, value)
        if kind.startswith("instance:"):
            return Cell("instance", inner[0].module, f"{inner[0].name}.{node.attr}", kind)
    return None

def arg_value(scope: Scope, callee: FuncInfo, param: str, bound: bool) -> Cell | None:
    """The state cell the callers of `callee` pass as `param`, if they agree on one:
    a module-level object handed to a constructor or a setter at start-up."""
    key = (id(callee), param)
    if key in scope.arg_memo:
        return scope.arg_memo[key]
    scope.arg_memo[key] = None  # cycle guard
    found: Cell | None = None
    for mod, caller, call in call_sites(scope, callee):
        arg = bind_args(callee, call, bound).get(param)
        if arg is None:
            continue
        if caller is None:
            s = scope.p.module_expr(mod, arg)
            cell = scope.global_cell(s) if s is not None else None
        else:
            got = scope.ref(caller, arg, call.lineno)
            cell = got[0] if got is not None and isinstance(got[0], Cell) and \
                not got[1] else None
        if cell is None:
            continue
        if found is not None and cell != found:
            found = None
            break
        found = cell
    scope.arg_memo[key] = found
    return found

def call_sites(scope: Scope, fn: FuncInfo) -> list[tuple[ModuleInfo, FuncInfo | None, ast.Call]]:
    """Every call in the tree that may run `fn` (for `__init__`: `Cls(...)`), with the
    function it sits in (None: module level). Found by name, then resolved."""
    key = id(fn)
    if key in scope.site_memo:
        return scope.site_memo[key]
    scope.site_memo[key] = []
    name = fn.cls.name if fn.name == "__init__" and fn.cls is not None else fn.name
    out: list[tuple[ModuleInfo, FuncInfo | None, ast.Call]] = []
    for mod in scope.p.modules:
        if name not in mod.src.text or mod.src.tree is None:
            continue
        for stmt in module_level(mod.src.tree.body):
            for n in ast.walk(stmt):
                if isinstance(n, ast.Call) and called_name(n) == name:
                    s = scope.p.module_expr(mod, n.func)
                    target = s.func if s is not None and s.kind == "func" else (
                        scope.p.find_method(s.cls, "__init__")
                        if s is not None and s.kind == "class" and s.cls else None)
                    if target is fn:
                        out.append((mod, None, n))
        for caller in mod.all_funcs:
            for n in facts_of(caller).calls:
                if called_name(n) == name and any(
                        c is fn for c, _, _ in callees(scope, caller, n)):
                    out.append((mod, caller, n))
    scope.site_memo[key] = out
    return out
