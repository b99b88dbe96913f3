"""Function-scope resolution: what an expression inside a function refers to.

`Scope.ref` maps an expression to a state cell or to a parameter of the function
(the latter is what makes per-function summaries reusable at every call site).
Local aliases are followed flow-approximately: the last binding before the use
wins, and copies (`list(X)`, `dict(X)`, `X.copy()`, `copy.deepcopy(X)`) break
the alias, which is why "local copies of globals" stay silent.
"""

from __future__ import annotations

import ast

from stateline.lint.facts import facts_of
from stateline.lint.index import ClassInfo, FuncInfo
from stateline.lint.model import Cell, Param, Ref
from stateline.lint.resolve import Project, Sym, class_id
from stateline.lint.values import INERT

_COPIES = frozenset({"builtins.list", "builtins.dict", "builtins.set", "builtins.tuple",
                     "builtins.sorted", "builtins.frozenset", "copy.copy", "copy.deepcopy",
                     "builtins.len", "builtins.str", "builtins.int", "builtins.sum",
                     "builtins.bool", "builtins.repr", "json.loads", "json.dumps"})
_COPY_METHODS = frozenset({"copy", "items", "keys", "values", "__copy__", "to_dict", "dict",
                           "model_dump", "format", "join", "split", "strip", "lower", "upper"})
_ELEMENT_METHODS = frozenset({"get", "setdefault", "__getitem__"})
REQUEST_NAMES = frozenset({"request", "req", "websocket", "ws", "conn", "connection", "scope"})
_APP_PARTS = frozenset({"state", "config", "extra", "extensions"})


def first_param(fn: FuncInfo) -> str | None:
    if fn.cls is None:
        return None
    for d in fn.node.decorator_list:
        if isinstance(d, ast.Name) and d.id == "staticmethod":
            return None
    a = fn.node.args
    args = (*a.posonlyargs, *a.args)
    return args[0].arg if args else None


def is_classmethod(fn: FuncInfo) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "classmethod" for d in fn.node.decorator_list)


class Scope:
    def __init__(self, project: Project) -> None:
        self.p = project
        self._returns: dict[int, list[Ref]] = {}
        self._in_progress: set[int] = set()

    # names -----------------------------------------------------------------
    def local_value(self, fn: FuncInfo, name: str, line: int) -> tuple[bool, ast.expr | None]:
        """(is_local, value of the last binding before `line`)."""
        binds = facts_of(fn).assigns.get(name)
        if not binds:
            return False, None
        before = [b for b in binds if b[0] <= line]
        return True, (before[-1] if before else binds[0])[1]

    def lookup(self, fn: FuncInfo, name: str, line: int) -> tuple[str, object, object]:
        """→ (kind, a, b): global/sym, nested func, param, local, closure."""
        f = facts_of(fn)
        if name in f.globals_decl:
            return "sym", self.p.symbol(fn.module, name), None
        if name in fn.nested and name not in fn.params:
            return "sym", Sym("func", fn.module, name, func=fn.nested[name]), None
        if name in fn.params:
            return "param", name, None
        if name not in f.nonlocals:
            is_local, value = self.local_value(fn, name, line)
            if is_local:
                return "local", value, None
        outer = fn.parent
        while outer is not None:
            if name in outer.nested:
                return "sym", Sym("func", outer.module, name, func=outer.nested[name]), None
            of = facts_of(outer)
            if name in outer.params:
                return "closure", outer, None
            if name in of.assigns and name not in of.globals_decl:
                return "closure", outer, of.assigns[name][0][1]
            outer = outer.parent
        return "sym", self.p.symbol(fn.module, name), None

    def sym(self, fn: FuncInfo | None, node: ast.expr, line: int, depth: int = 0) -> Sym | None:
        """What a Name/Attribute chain denotes inside `fn` (module scope when fn is None)."""
        if fn is None or depth > 6:
            return None
        if isinstance(node, ast.Name):
            kind, a, _ = self.lookup(fn, node.id, line)
            if kind == "sym":
                return a  # type: ignore[return-value]
            if kind == "local" and isinstance(a, ast.Name | ast.Attribute):
                return self.sym(fn, a, line, depth + 1)
            return None
        if isinstance(node, ast.Attribute):
            return self.p.member(self.sym(fn, node.value, line, depth + 1), node.attr)
        return None

    def dotted(self, fn: FuncInfo, node: ast.expr, line: int) -> str:
        """External dotted name of an expression, or "" (e.g. `random.seed`)."""
        s = self.sym(fn, node, line)
        return s.name if s is not None and s.kind == "ext" else ""

    # cells -----------------------------------------------------------------
    def global_cell(self, sym: Sym) -> Cell | None:
        if sym.kind != "global" or sym.module is None:
            return None
        mod, name = sym.module, sym.name
        kind = self.p.global_kind(mod, name)
        lazy = False
        if kind == "none":
            kind, lazy = self.lazy_kind(sym)
        return Cell("global", mod.name, name, kind, lazy)

    def lazy_kind(self, sym: Sym) -> tuple[str, bool]:
        """A global bound to None at import and assigned later: what is put there,
        and whether that assignment sits under an `if X is None` guard."""
        mod = sym.module
        assert mod is not None
        for fn in mod.all_funcs:
            f = facts_of(fn)
            if sym.name not in f.globals_decl:
                continue
            for line, value in f.assigns.get(sym.name, ()):
                if value is None or (isinstance(value, ast.Constant) and value.value is None):
                    continue
                guarded = any(g[0] == sym.name and g[1] <= line <= g[2] for g in f.guards)
                return self.p.classify(mod, value), guarded
        return "none", False

    def ref(self, fn: FuncInfo, node: ast.expr, line: int, depth: int = 0
            ) -> tuple[Ref, bool] | None:
        """The cell or parameter `node` aliases, and whether it is an element of it."""
        if depth > 8:
            return None
        if isinstance(node, ast.Name):
            return self._name_ref(fn, node.id, line, depth)
        if isinstance(node, ast.Attribute):
            app = self.app_cell(fn, node, line)
            if app is not None:
                return app, False
            cls = self.class_ref(fn, node.value, line)
            if cls is not None:
                return self._class_attr_cell(cls, node.attr, through_self=False)
            sp = first_param(fn)
            if sp and isinstance(node.value, ast.Name) and node.value.id == sp \
                    and facts_of(fn).assigns.get(sp) is None:
                return self._self_attr(fn, node.attr)
            s = self.sym(fn, node.value, line)
            if s is not None and s.kind == "module":
                target = self.p.member(s, node.attr)
                if target is not None and target.kind == "global":
                    cell = self.global_cell(target)
                    return (cell, False) if cell else None
                return None
            inner = self.ref(fn, node.value, line, depth + 1)
            return (inner[0], True) if inner else None
        if isinstance(node, ast.Subscript):
            app = self.app_cell(fn, node.value, line)
            if app is not None:
                return app, True
            inner = self.ref(fn, node.value, line, depth + 1)
            return (inner[0], True) if inner else None
        if isinstance(node, ast.Call):
            return self._call_ref(fn, node, line, depth)
        if isinstance(node, ast.Await):
            return self.ref(fn, node.value, line, depth + 1)
        return None

    def _name_ref(self, fn: FuncInfo, name: str, line: int, depth: int
                  ) -> tuple[Ref, bool] | None:
        kind, a, b = self.lookup(fn, name, line)
        if kind == "param":
            default = self.default_of(fn, name)
            if default is not None:
                vk = self.p.classify(fn.module, default)
                if vk not in INERT and vk not in ("none", "unknown"):
                    return Cell("default", fn.module.name, f"{fn.qual}({name}=...)", vk), False
            return Param(name), False
        if kind == "local":
            if a is None or not isinstance(a, ast.expr):
                return None
            return self.ref(fn, a, getattr(a, "lineno", line), depth + 1)
        if kind == "closure":
            outer = a
            assert isinstance(outer, FuncInfo)
            if b is None or not isinstance(b, ast.expr):
                return None
            inner = self.ref(outer, b, getattr(b, "lineno", line), depth + 1)
            if inner is not None and isinstance(inner[0], Cell):
                return inner
            vk = self.p.classify(outer.module, b)
            if vk in ("unknown",) and isinstance(b, ast.Call):
                s = self.sym(outer, b.func, line)
                vk = self.p.call_kind(s) if s is not None else "unknown"
            return Cell("closure", fn.module.name, f"{outer.qual}.{name}", vk), False
        if kind == "sym" and isinstance(a, Sym):
            cell = self.global_cell(a)
            return (cell, False) if cell else None
        return None

    def _call_ref(self, fn: FuncInfo, node: ast.Call, line: int, depth: int
                  ) -> tuple[Ref, bool] | None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in _COPY_METHODS:
                return None
            if func.attr in _ELEMENT_METHODS:
                inner = self.ref(fn, func.value, line, depth + 1)
                return (inner[0], True) if inner else None
        s = self.sym(fn, func, line)
        if s is None:
            return None
        if s.kind == "ext":
            return None  # copies, constructors and external calls make new objects
        if s.kind == "func" and s.func is not None:
            for r in self.returns(s.func):
                if isinstance(r, Cell):
                    return r, False
                if isinstance(r, Param):
                    arg = bind_args(s.func, node, bound_self=False).get(r.name)
                    if arg is not None:
                        return self.ref(fn, arg, line, depth + 1)
        return None

    def default_of(self, fn: FuncInfo, name: str) -> ast.expr | None:
        a = fn.node.args
        positional = [*a.posonlyargs, *a.args]
        offset = len(positional) - len(a.defaults)
        for i, p in enumerate(positional):
            if p.arg == name and i >= offset:
                return a.defaults[i - offset]
        for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=False):
            if p.arg == name:
                return d
        return None

    def _self_attr(self, fn: FuncInfo, attr: str) -> tuple[Ref, bool] | None:
        cls = fn.cls
        assert cls is not None
        found = self.p.class_attr(cls, attr)
        if found is not None and attr not in self._init_attrs(cls):
            cell = self._class_attr_cell(cls, attr, through_self=True)
            if cell is not None:
                return cell
        init_value = self._init_attrs(cls).get(attr)
        if init_value is not None:
            vk = self.p.classify(cls.module, init_value)
            if vk in INERT:
                return None
        sp = first_param(fn) or "self"
        return Param(sp), True

    def _init_attrs(self, cls: ClassInfo) -> dict[str, ast.expr | None]:
        out: dict[str, ast.expr | None] = {}
        for c in reversed(self.p.mro(cls)):
            out.update(c.init_attrs)
        return out

    def _class_attr_cell(self, cls: ClassInfo, attr: str, through_self: bool
                         ) -> tuple[Ref, bool] | None:
        found = self.p.class_attr(cls, attr)
        if found is None or self.p.is_data_model(found[0]):
            return None
        owner, value = found
        vk = self.p.classify(owner.module, value) if value is not None else "unknown"
        if through_self and vk in INERT | {"immutable", "none", "unknown", "function", "class"}:
            return None
        return Cell("classattr", owner.module.name, f"{owner.qual}.{attr}", vk), False

    def class_ref(self, fn: FuncInfo, node: ast.expr, line: int) -> ClassInfo | None:
        """`cls`, `type(self)`, `self.__class__` or a class name → the class."""
        sp = first_param(fn)
        if isinstance(node, ast.Name):
            if sp == node.id and is_classmethod(fn):
                return fn.cls
            s = self.sym(fn, node, line)
            return s.cls if s is not None and s.kind == "class" else None
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "type" and len(node.args) == 1
                and isinstance(node.args[0], ast.Name) and node.args[0].id == sp):
            return fn.cls
        if (isinstance(node, ast.Attribute) and node.attr == "__class__"
                and isinstance(node.value, ast.Name) and node.value.id == sp):
            return fn.cls
        return None

    def app_cell(self, fn: FuncInfo, node: ast.expr, line: int) -> Cell | None:
        """A framework app object or its state/config: `app.state`, `request.app[...]`."""
        base = node
        path = ""
        if isinstance(node, ast.Attribute) and node.attr in _APP_PARTS:
            base, path = node.value, "." + node.attr
        if self.is_app(fn, base, line):
            return Cell("app", fn.module.name, ast.unparse(base) + path, "appstate")
        return None

    def is_app(self, fn: FuncInfo, node: ast.expr, line: int) -> bool:
        if isinstance(node, ast.Attribute) and node.attr == "app":
            v = node.value
            if isinstance(v, ast.Name) and v.id in REQUEST_NAMES:
                return True
            if isinstance(v, ast.Attribute) and v.attr == "request":
                return True
            return False
        if isinstance(node, ast.Attribute) and node.attr == "config_dict":
            return True
        if isinstance(node, ast.Name):
            s = self.sym(fn, node, line)
            if s is not None and s.kind == "ext" and s.name in ("flask.current_app",
                                                                "quart.current_app"):
                return True
            if s is not None and s.kind == "global" and s.module is not None:
                return self.p.global_kind(s.module, s.name) == "app"
            kind, a, b = self.lookup(fn, node.id, line)
            if kind == "closure" and isinstance(b, ast.expr) and isinstance(a, FuncInfo):
                return self.p.classify(a.module, b) == "app" or (
                    isinstance(b, ast.Call) and self._callee_kind(a, b) == "app")
        return False

    def _callee_kind(self, fn: FuncInfo, call: ast.Call) -> str:
        s = self.sym(fn, call.func, call.lineno)
        return self.p.call_kind(s) if s is not None else "unknown"

    # calls -----------------------------------------------------------------
    def returns(self, fn: FuncInfo) -> list[Ref]:
        key = id(fn)
        if key in self._returns:
            return self._returns[key]
        if key in self._in_progress:
            return []
        self._in_progress.add(key)
        out: list[Ref] = []
        for r in facts_of(fn).returns:
            got = self.ref(fn, r, r.lineno)
            if got is not None and got[0] not in out:
                out.append(got[0])
        self._in_progress.discard(key)
        self._returns[key] = out
        return out

    def callees(self, fn: FuncInfo, call: ast.Call) -> list[tuple[FuncInfo, Ref | None, bool]]:
        """Analysed functions `call` may run: (callee, what `self` is bound to, bound?)."""
        line = call.lineno
        func = call.func
        out: list[tuple[FuncInfo, Ref | None, bool]] = []
        if isinstance(func, ast.Attribute):
            obj = func.value
            sp = first_param(fn)
            if fn.cls is not None and isinstance(obj, ast.Name) and obj.id == sp:
                m = self.p.find_method(fn.cls, func.attr)
                if m is not None:
                    out.append((m, None if is_classmethod(fn) else Param(sp), True))
                return out
            if (isinstance(obj, ast.Call) and isinstance(obj.func, ast.Name)
                    and obj.func.id == "super" and fn.cls is not None and sp):
                m = self.p.find_method(fn.cls, func.attr, skip_self=True)
                if m is not None:
                    out.append((m, Param(sp), True))
                return out
            s = self.sym(fn, obj, line)
            if s is not None and s.kind == "module":
                target = self.p.member(s, func.attr)
                return self._sym_callee(target)
            if s is not None and s.kind == "class" and s.cls is not None:
                m = self.p.find_method(s.cls, func.attr)
                return [(m, None, is_classmethod(m))] if m is not None else []
            r = self.ref(fn, obj, line)
            if r is not None and isinstance(r[0], Cell) and not r[1]:
                cls = self.p.class_of_kind(r[0].vkind)
                if cls is not None:
                    m = self.p.find_method(cls, func.attr)
                    if m is not None:
                        out.append((m, r[0], True))
                return out
            local_cls = self._local_instance(fn, obj, line)
            if local_cls is not None:
                m = self.p.find_method(local_cls, func.attr)
                if m is not None:
                    out.append((m, None, True))
            return out
        if isinstance(func, ast.Name):
            return self._sym_callee(self.sym(fn, func, line))
        return out

    def _sym_callee(self, s: Sym | None) -> list[tuple[FuncInfo, Ref | None, bool]]:
        if s is None:
            return []
        if s.kind == "func" and s.func is not None:
            return [(s.func, None, False)]
        if s.kind == "class" and s.cls is not None:
            init = self.p.find_method(s.cls, "__init__")
            return [(init, None, True)] if init is not None else []
        return []

    def _local_instance(self, fn: FuncInfo, obj: ast.expr, line: int) -> ClassInfo | None:
        if not isinstance(obj, ast.Name):
            return None
        kind, a, _ = self.lookup(fn, obj.id, line)
        if kind == "local" and isinstance(a, ast.Call):
            s = self.sym(fn, a.func, line)
            if s is not None and s.kind == "class":
                return s.cls
        return None

    def instance_cell(self, cls: ClassInfo) -> Cell:
        """The one long-lived instance of a per-process class (middleware, ...)."""
        return Cell("instance", cls.module.name, f"{cls.qual} instance",
                    "instance:" + class_id(cls))


def bind_args(callee: FuncInfo, call: ast.Call, bound_self: bool) -> dict[str, ast.expr]:
    """Map call arguments to the callee's parameter names."""
    a = callee.node.args
    positional = [p.arg for p in (*a.posonlyargs, *a.args)]
    if bound_self and positional:
        positional = positional[1:]
    out: dict[str, ast.expr] = {}
    for name, arg in zip(positional, call.args, strict=False):
        if isinstance(arg, ast.Starred):
            break
        out[name] = arg
    for kw in call.keywords:
        if kw.arg is not None:
            out[kw.arg] = kw.value
    return out
