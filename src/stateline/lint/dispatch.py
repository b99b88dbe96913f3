"""Dynamic dispatch the call graph follows conservatively: handler tables and getattr.

`HANDLERS[kind](payload)`, `SOURCES.get(name).get_all()`, a service picked from a
table in middleware and called later as `request.state.source.get_all()`, and
`getattr(self, "on_" + event)(msg)` all run one of a small, known set of
functions. Each such call is given every candidate as a callee: the functions
(or the instances' methods) listed in a module-level dict/list/tuple literal,
or the methods of the class whose names start with the constant prefix. A call
whose candidates cannot be listed this way stays unresolved, as before.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from stateline.lint.facts import facts_of
from stateline.lint.index import ClassInfo, FuncInfo, ModuleInfo
from stateline.lint.model import Cell, Param, Ref
from stateline.lint.resolve import class_id

if TYPE_CHECKING:
    from stateline.lint.scope import Scope

# A table element: a function, a class (called to make an instance), an instance, or
# ("part") an instance kept in a table of the caller's own `self`.
Element = tuple[str, FuncInfo | ClassInfo]
Callee = tuple[FuncInfo, Ref | None, bool]


class Dispatch:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._tables: dict[tuple[int, str], list[Element]] = {}
        self._state_attrs: dict[str, list[tuple[FuncInfo, ast.expr]]] | None = None
        self._picked: dict[int, list[Element]] = {}
        # (call, callee) pairs whose `self` is an element of the caller's `self`
        self.element_calls: set[tuple[int, int]] = set()

    # tables ------------------------------------------------------------------
    def table(self, mod: ModuleInfo, name: str) -> list[Element]:
        """The elements of a module-level dict/list/tuple literal of handlers."""
        key = (id(mod), name)
        if key not in self._tables:
            self._tables[key] = []
            value = mod.globals.get(name)
            items = value.values if isinstance(value, ast.Dict) else (
                value.elts if isinstance(value, ast.List | ast.Tuple | ast.Set) else [])
            out: list[Element] = []
            for item in items:
                el = self._element(mod, item)
                if el is not None:
                    out.append(el)
            self._tables[key] = out
        return self._tables[key]

    def _element(self, mod: ModuleInfo, node: ast.expr | None) -> Element | None:
        p = self.scope.p
        if isinstance(node, ast.Call):
            s = p.module_expr(mod, node.func)
            if s is not None and s.kind == "class" and s.cls is not None:
                return ("instance", s.cls)
            return None
        if isinstance(node, ast.Name | ast.Attribute):
            s = p.module_expr(mod, node)
            if s is not None and s.kind == "func" and s.func is not None:
                return ("func", s.func)
            if s is not None and s.kind == "class" and s.cls is not None:
                return ("class", s.cls)
        return None

    def lookup(self, fn: FuncInfo, node: ast.expr, line: int, depth: int = 0
               ) -> list[Element]:
        """Elements `node` may be when it picks from a handler table: `T[k]`,
        `T.get(k)`, a local bound to one, or a call of a function that returns one."""
        if depth > 3:
            return []
        sc = self.scope
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Name):  # a loop over a local collection
                is_local, value = sc.local_value(fn, node.value.id, line)
                if is_local and isinstance(value, ast.Call):
                    return self._collection(fn, value, line)
            return self._table_of(fn, node.value, line)
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "get" and node.args:
                return self._table_of(fn, f.value, line)
            s = sc.sym(fn, f, line) if isinstance(f, ast.Name | ast.Attribute) else None
            if s is not None and s.kind == "func" and s.func is not None:
                key = id(s.func)
                if key not in self._picked:
                    self._picked[key] = []  # recursion guard
                    out: list[Element] = []
                    for r in facts_of(s.func).returns:
                        out.extend(self.lookup(s.func, r, getattr(r, "lineno", 10**9),
                                               depth + 1))
                    self._picked[key] = out
                return self._picked[key]
            return []
        if isinstance(node, ast.Name):
            is_local, value = sc.local_value(fn, node.id, line)
            if is_local and value is not None and value is not node:
                return self.lookup(fn, value, line, depth + 1)
            return []
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and \
                node.value.attr == "state":
            out = []
            for owner, value in self.state_attrs().get(node.attr, ()):
                out.extend(self.lookup(owner, value, getattr(value, "lineno", 10**9),
                                       depth + 1))
            return out
        return []

    def _collection(self, fn: FuncInfo, call: ast.Call, line: int) -> list[Element]:
        """What a helper returning a collection of classes holds, when it is built from
        `Base.__subclasses__()`: `for svc in cls._services(): svc.run()` may run the
        method of any analysed subclass of `Base`."""
        f = call.func
        target: FuncInfo | None = None
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and \
                fn.cls is not None and fn.params and f.value.id == fn.params[0]:
            target = self.scope.p.find_method(fn.cls, f.attr)
        else:
            s = self.scope.sym(fn, f, line) if isinstance(f, ast.Name | ast.Attribute) else None
            target = s.func if s is not None and s.kind == "func" else None
        if target is None:
            return []
        out: list[Element] = []
        for n in ast.walk(target.node):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and \
                    n.func.attr == "__subclasses__":
                base = self.scope.sym(target, n.func.value, n.lineno)
                if base is not None and base.kind == "class" and base.cls is not None:
                    out.extend(("class", c) for c in self._subclasses(base.cls))
        return out

    def _subclasses(self, base: ClassInfo) -> list[ClassInfo]:
        p = self.scope.p
        return [c for m in p.modules for c in m.all_classes
                if c is not base and base in p.mro(c)]

    def _table_of(self, fn: FuncInfo, node: ast.expr, line: int) -> list[Element]:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                fn.cls is not None and fn.params and node.value.id == fn.params[0]:
            return self.attr_table(fn.cls, node.attr)
        s = self.scope.sym(fn, node, line)
        if s is not None and s.kind == "global" and s.module is not None:
            return self.table(s.module, s.name)
        return []

    def attr_table(self, cls: ClassInfo, attr: str) -> list[Element]:
        """`self.groups = {"all": Group(...)}` in a method of the class: a table that
        the instance keeps; its elements are parts of that instance."""
        key = (id(cls), attr)
        if key not in self._tables:
            self._tables[key] = []
            out: list[Element] = []
            for c in self.scope.p.mro(cls):
                for m in c.methods.values():
                    for n in ast.walk(m.node):
                        if isinstance(n, ast.Assign) and isinstance(
                                n.value, ast.Dict | ast.List | ast.Tuple) and any(
                                isinstance(t, ast.Attribute) and t.attr == attr and isinstance(
                                    t.value, ast.Name) for t in n.targets):
                            items = n.value.values if isinstance(n.value, ast.Dict) else \
                                n.value.elts
                            out.extend(el for el in (self._element(m.module, i) for i in items)
                                       if el is not None)
            self._tables[key] = [("part", t) if k == "instance" else (k, t) for k, t in out]
        return self._tables[key]

    def state_attrs(self) -> dict[str, list[tuple[FuncInfo, ast.expr]]]:
        """`request.state.source = pick(name)` anywhere (middleware, dependencies):
        attribute name → the functions and values that set it."""
        if self._state_attrs is None:
            out: dict[str, list[tuple[FuncInfo, ast.expr]]] = {}
            for mod in self.scope.p.modules:
                if ".state." not in mod.src.text:
                    continue
                for fn in mod.all_funcs:
                    for n in ast.walk(fn.node):
                        if isinstance(n, ast.Assign):
                            for t in n.targets:
                                if isinstance(t, ast.Attribute) and isinstance(
                                        t.value, ast.Attribute) and t.value.attr == "state":
                                    out.setdefault(t.attr, []).append((fn, n.value))
            self._state_attrs = out
        return self._state_attrs

    # callees -----------------------------------------------------------------
    def callees(self, fn: FuncInfo, call: ast.Call) -> list[Callee]:
        """Candidates of a dynamically dispatched call (empty when it is not one)."""
        func = call.func
        line = call.lineno
        p = self.scope.p
        out: list[Callee] = []
        if isinstance(func, ast.Subscript) or (
                isinstance(func, ast.Call) and isinstance(func.func, ast.Attribute)
                and func.func.attr == "get"):
            for kind, target in self.lookup(fn, func, line):  # `HANDLERS[name](...)`
                if kind == "func" and isinstance(target, FuncInfo):
                    out.append((target, None, False))
                elif kind == "class" and isinstance(target, ClassInfo):
                    init = p.find_method(target, "__init__")
                    if init is not None:
                        out.append((init, None, True))
                elif isinstance(target, ClassInfo):
                    m = p.find_method(target, "__call__")
                    if m is not None:
                        out.append((m, _instance(target), True))
            return out
        if isinstance(func, ast.Call) and _is_getattr(func):
            return self._getattr(fn, func)
        if isinstance(func, ast.Attribute):
            for kind, target in self.lookup(fn, func.value, line):  # `T[k].run()`
                if kind in ("instance", "part", "class") and isinstance(target, ClassInfo):
                    m = p.find_method(target, func.attr)
                    if m is None:
                        continue
                    if kind == "class":  # `svc.run()` on a class: its class/static method
                        out.append((m, None, not _is_static(m)))
                    elif kind == "part" and fn.params:
                        # its writes are writes to an element of the caller's `self`
                        self.element_calls.add((id(call), id(m)))
                        out.append((m, Param(fn.params[0]), True))
                    else:
                        out.append((m, _instance(target), True))
        return out

    def _getattr(self, fn: FuncInfo, call: ast.Call) -> list[Callee]:
        """`getattr(self, "on_" + event)(...)`: the class's methods with that prefix."""
        obj, name = call.args[0], call.args[1]
        prefix = _constant_prefix(name)
        if not prefix or fn.cls is None or not isinstance(obj, ast.Name) or not fn.params or \
                obj.id != fn.params[0]:
            return []
        out: list[Callee] = []
        seen: set[str] = set()
        for c in self.scope.p.mro(fn.cls):
            for mname, m in c.methods.items():
                if mname.startswith(prefix) and mname not in seen:
                    seen.add(mname)
                    out.append((m, None, True))
        return out


def _is_static(fn: FuncInfo) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.node.decorator_list)


def _is_getattr(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id == "getattr" and len(call.args) >= 2


def _constant_prefix(node: ast.expr) -> str:
    """"on_" of `"on_" + x`, `f"on_{x}"`, `"on_%s" % x`, `"on_{}".format(x)`."""
    if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant) and isinstance(
            node.left.value, str):
        return node.left.value.split("%", 1)[0]
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(
            node.values[0], ast.Constant):
        return str(node.values[0].value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr == "format" and isinstance(node.func.value, ast.Constant):
        return str(node.func.value.value).split("{", 1)[0]
    return ""


def _instance(cls: ClassInfo) -> Cell:
    """The instance a handler table keeps for the whole process."""
    return Cell("instance", cls.module.name, f"{cls.qual} instance", "instance:" + class_id(cls))

