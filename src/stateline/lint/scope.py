"""Function-scope resolution: what an expression inside a function refers to.

`Scope.ref` maps an expression to a state cell or to a parameter of the function
(the latter is what makes per-function summaries reusable at every call site).
Local aliases are followed flow-approximately: the last binding before the use
wins, and copies (`list(X)`, `dict(X)`, `X.copy()`, `copy.deepcopy(X)`) break
the alias, which is why "local copies of globals" stay silent.
"""

from __future__ import annotations

import ast

from stateline.lint.appattrs import container_attrs
from stateline.lint.calls import bind_args, cache_decorator, first_param, is_classmethod
from stateline.lint.dispatch import Dispatch
from stateline.lint.facts import facts_of
from stateline.lint.index import ClassInfo, FuncInfo, ModuleInfo, absolute_import
from stateline.lint.injection import arg_value, member_cell
from stateline.lint.model import Cell, Param, Ref
from stateline.lint.resolve import Project, Sym
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


class Scope:
    def __init__(self, project: Project) -> None:
        self.p = project
        self._returns: dict[int, list[tuple[Ref, bool]]] = {}
        self._in_progress: set[int] = set()
        self.arg_memo: dict[tuple[int, str], Cell | None] = {}
        self.site_memo: dict[int, list[tuple[ModuleInfo, FuncInfo | None, ast.Call]]] = {}
        self.dispatch: Dispatch | None = None  # handler tables, made on first need
        self._app_attrs: frozenset[str] | None = None  # containers hung on the app

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
        if name in f.imports:
            return "sym", self.local_import(fn, name), None
        if name not in f.nonlocals:
            is_local, value = self.local_value(fn, name, line)
            if is_local:
                return "local", value, None
        outer = fn.parent
        while outer is not None:
            if name in outer.nested:
                return "sym", Sym("func", outer.module, name, func=outer.nested[name]), None
            of = facts_of(outer)
            if name in of.imports:
                return "sym", self.local_import(outer, name), None
            if name in outer.params:
                return "closure", outer, None
            if name in of.assigns and name not in of.globals_decl:
                return "closure", outer, of.assigns[name][0][1]
            outer = outer.parent
        return "sym", self.p.symbol(fn.module, name), None

    def local_import(self, fn: FuncInfo, name: str) -> Sym | None:
        """What a name imported inside a function body denotes (`from jobs import enqueue`)."""
        level, module, attr = facts_of(fn).imports[name]
        base = absolute_import(fn.module, level, module)
        return self.p.import_target(fn.module, base, attr)

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
    def global_cell(self, sym: Sym, depth: int = 0) -> Cell | None:
        if sym.kind != "global" or sym.module is None:
            return None
        mod, name = sym.module, sym.name
        value = mod.globals.get(name)
        if isinstance(value, ast.Name | ast.Attribute) and depth < 5:
            # `inventory = BOOKS` / `inventory = catalog.BOOKS`: the same object.
            target = self.p.module_expr(mod, value)
            if target is not None and target.kind == "global" and not (
                    target.module is mod and target.name == name):
                return self.global_cell(target, depth + 1)
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
                if isinstance(value, ast.Name) and value.id in fn.params:
                    # `def set_service(s): global _service; _service = s`: what the
                    # callers hand in (dependency injection at start-up)
                    passed = arg_value(self, fn, value.id, bound=False)
                    if passed is not None:
                        return passed.vkind, guarded
                return self.p.classify(mod, value), guarded
        return "none", False

    def ref(self, fn: FuncInfo, node: ast.expr, line: int, depth: int = 0
            ) -> tuple[Ref, bool] | None:
        """The cell or parameter `node` aliases, and whether it is an element of it."""
        if depth > 8:
            return None
        if isinstance(node, ast.Name):
            return self.name_ref(fn, node.id, line, depth)
        if isinstance(node, ast.Attribute):
            app = self.app_cell(fn, node, line)
            if app is not None:
                return app, False
            cls = self.class_ref(fn, node.value, line)
            if cls is not None:
                return self._class_attr_cell(cls, node.attr, through_self=False)
            member = member_cell(self, fn, node, line, depth)
            if member is not None:
                return member, False
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
            if isinstance(node.slice, ast.Slice):
                return None  # `X[:]`, `X[-10:]`: a copy
            app = self.app_cell(fn, node.value, line)
            if app is not None:
                return app, True
            inner = self.ref(fn, node.value, line, depth + 1)
            return (inner[0], True) if inner else None
        if isinstance(node, ast.Call):
            return self._call_ref(fn, node, line, depth)
        if isinstance(node, ast.Await):
            v = node.value
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and \
                    v.func.attr in _ELEMENT_METHODS:
                return None  # `await repo.get(id)`: a coroutine's result, never a dict item
            return self.ref(fn, v, line, depth + 1)
        if isinstance(node, ast.BoolOp | ast.IfExp):
            # `CARTS.get(u) or []`, `A if c else B`: an alias of whichever operand is state
            parts = node.values if isinstance(node, ast.BoolOp) else [node.body, node.orelse]
            for part in parts:
                got = self.ref(fn, part, line, depth + 1)
                if got is not None:
                    return got
        return None

    def name_ref(self, fn: FuncInfo, name: str, line: int, depth: int = 0
                 ) -> tuple[Ref, bool] | None:
        """The cell or parameter a bare name refers to at `line` of `fn`."""
        kind, a, b = self.lookup(fn, name, line)
        if kind == "param":
            default = self.default_of(fn, name)
            provided = self._dependency(fn, name, default, line, depth)
            if provided is not None:
                return provided
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
                if inner is not None and isinstance(inner[0], Cell) and not inner[1]:
                    cls = self.p.class_of_kind(inner[0].vkind)
                    if cls is not None and self.p.find_method(cls, func.attr) is not None:
                        return None  # `service.get(id)`: an analysed method, not dict.get
                return (inner[0], True) if inner else None
        s = self.sym(fn, func, line)
        if s is None:
            return None
        if s.kind == "ext":
            return None  # copies, constructors and external calls make new objects
        if s.kind == "func" and s.func is not None:
            if cache_decorator(self, s) is not None and not s.func.params:
                # `@lru_cache def get_registry(): return Registry()`: one object
                # per process, created on first use.
                vk = self.p.call_kind(s)
                return Cell("global", s.func.module.name, f"{s.func.qual}()", vk, True), False
            for r, element in self.returns(s.func):
                if isinstance(r, Cell):
                    return r, element
                if isinstance(r, Param):
                    arg = bind_args(s.func, node, bound_self=False).get(r.name)
                    if arg is not None:
                        got = self.ref(fn, arg, line, depth + 1)
                        return (got[0], got[1] or element) if got else None
        return None

    def _dependency(self, fn: FuncInfo, name: str, default: ast.expr | None, line: int,
                    depth: int) -> tuple[Ref, bool] | None:
        """`store: Store = Depends(get_store)`: the parameter is what the provider returns."""
        candidates: list[ast.expr] = [default] if default is not None else []
        for a in (*fn.node.args.posonlyargs, *fn.node.args.args, *fn.node.args.kwonlyargs):
            if a.arg == name and isinstance(a.annotation, ast.Subscript):
                candidates.extend(ast.walk(a.annotation))
        for c in candidates:
            if (isinstance(c, ast.Call) and c.args and isinstance(c.func, ast.Name | ast.Attribute)
                    and (c.func.id if isinstance(c.func, ast.Name) else c.func.attr)
                    in ("Depends", "Security")):
                s = self.sym(fn, c.args[0], line)
                if s is not None and s.kind == "func" and s.func is not None:
                    for r, element in self.returns(s.func):
                        if isinstance(r, Cell):
                            return r, element
                if s is not None and s.kind == "global":
                    cell = self.global_cell(s)
                    return (cell, False) if cell else None
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
        if found is not None and attr not in self.init_attrs(cls):
            cell = self._class_attr_cell(cls, attr, through_self=True)
            if cell is not None:
                return cell
        init_value = self.init_attrs(cls).get(attr)
        if init_value is not None:
            vk = self.p.classify(cls.module, init_value)
            if vk in INERT:
                return None
        sp = first_param(fn) or "self"
        return Param(sp), True

    def init_attrs(self, cls: ClassInfo) -> dict[str, ast.expr | None]:
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
        if isinstance(node, ast.Attribute) and (
                node.attr in _APP_PARTS or node.attr in self.app_attrs()):
            base, path = node.value, "." + node.attr
        if self.is_app(fn, base, line):
            return Cell("app", fn.module.name, ast.unparse(base) + path, "appstate")
        return None

    def app_attrs(self) -> frozenset[str]:
        """Attributes the project gives a container on its app (`app.token_map = {}`)."""
        if self._app_attrs is None:
            self._app_attrs = container_attrs(self.p)
        return self._app_attrs

    def is_app(self, fn: FuncInfo, node: ast.expr, line: int) -> bool:
        if isinstance(node, ast.Attribute) and node.attr == "app":
            v = node.value
            if isinstance(v, ast.Name) and v.id in REQUEST_NAMES:
                return True
            return isinstance(v, ast.Attribute) and v.attr == "request"
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
    def returns(self, fn: FuncInfo) -> list[tuple[Ref, bool]]:
        """What `fn` may return an alias of: cells or its parameters (with element flag)."""
        key = id(fn)
        if key in self._returns:
            return self._returns[key]
        if key in self._in_progress:
            return []
        self._in_progress.add(key)
        out: list[tuple[Ref, bool]] = []
        for r in facts_of(fn).returns:
            got = self.ref(fn, r, r.lineno)
            if got is not None and got not in out:
                out.append(got)
        self._in_progress.discard(key)
        self._returns[key] = out
        return out

