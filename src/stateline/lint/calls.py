"""The call graph's edges: which analysed functions a call may run, and with what
bound to `self` and to each parameter.

Calls are resolved by name (local defs, module functions, imports), by method
on `self`/`super()`/a class, and by method on a long-lived instance cell (a
module-level object of an analysed class), which is how `store.put(...)` on a
module-level store reaches `Store.put` with `self` bound to that store.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from stateline.lint.dispatch import Dispatch
from stateline.lint.index import ClassInfo, FuncInfo
from stateline.lint.model import Cell, Param, Ref
from stateline.lint.resolve import Sym, class_id

if TYPE_CHECKING:
    from stateline.lint.scope import Scope

CACHE_DECORATORS = frozenset({
    "functools.lru_cache", "functools.cache", "cachetools.cached", "cachetools.cachedmethod",
    "cachetools.func.ttl_cache", "cachetools.func.lru_cache", "cachetools.func.lfu_cache",
    "cachetools.func.fifo_cache", "cachetools.func.rr_cache", "cachetools.func.mru_cache",
    "cachetools.func.tlru_cache", "asyncache.cached", "asyncache.cachedmethod",
    "async_lru.alru_cache", "aiocache.cached", "aiocache.cached_stampede",
    "aiocache.multi_cached", "aiocache.decorators.cached", "cachetools_async.cached",
    "async_cache.AsyncLRU", "async_cache.AsyncTTL", "methodtools.lru_cache",
})
# Decorators whose cache expires on its own: with a bound, a deliberate short-lived
# per-process cache (SL119), not authoritative state.
TTL_DECORATORS = frozenset({"cachetools.func.ttl_cache", "cachetools.func.tlru_cache",
                            "async_cache.AsyncTTL"})


def first_param(fn: FuncInfo) -> str | None:
    """The name a method calls its instance (or class) by; None outside classes."""
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


def is_staticmethod(fn: FuncInfo) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.node.decorator_list)


def _method_binding(m: FuncInfo, self_ref: Ref | None) -> tuple[FuncInfo, Ref | None, bool]:
    """How calling method `m` through an instance binds its first parameter: a
    staticmethod binds nothing (the first argument is a real argument, not `self`),
    a classmethod binds the class (never the instance's state)."""
    if is_staticmethod(m):
        return m, None, False
    if is_classmethod(m):
        return m, None, True
    return m, self_ref, True


def callees(scope: Scope, fn: FuncInfo, call: ast.Call
            ) -> list[tuple[FuncInfo, Ref | None, bool]]:
    """Analysed functions `call` may run: (callee, what `self` is bound to, bound?).
    A call not resolved statically may still pick from a handler table (dispatch.py)."""
    out = _static_callees(scope, fn, call)
    if out or isinstance(call.func, ast.Name):
        return out
    if scope.dispatch is None:
        scope.dispatch = Dispatch(scope)
    return scope.dispatch.callees(fn, call)


def _static_callees(scope: Scope, fn: FuncInfo, call: ast.Call
                    ) -> list[tuple[FuncInfo, Ref | None, bool]]:
    line = call.lineno
    func = call.func
    out: list[tuple[FuncInfo, Ref | None, bool]] = []
    if isinstance(func, ast.Attribute):
        obj = func.value
        sp = first_param(fn)
        if fn.cls is not None and isinstance(obj, ast.Name) and obj.id == sp:
            m = scope.p.find_method(fn.cls, func.attr)
            if m is not None:
                out.append(_method_binding(m, None if is_classmethod(fn) else Param(sp)))
            return out
        if (isinstance(obj, ast.Call) and isinstance(obj.func, ast.Name)
                and obj.func.id == "super" and fn.cls is not None and sp):
            m = scope.p.find_method(fn.cls, func.attr, skip_self=True)
            if m is not None:
                out.append(_method_binding(m, Param(sp)))
            return out
        s = scope.sym(fn, obj, line)
        if s is not None and s.kind == "module":
            target = scope.p.member(s, func.attr)
            return _sym_callee(scope, target)
        if s is not None and s.kind == "class" and s.cls is not None:
            m = scope.p.find_method(s.cls, func.attr)
            return [(m, None, is_classmethod(m))] if m is not None else []  # Class.method()
        r = scope.ref(fn, obj, line)
        if r is not None and isinstance(r[0], Cell) and not r[1]:
            cls = scope.p.class_of_kind(r[0].vkind)
            if cls is not None:
                m = scope.p.find_method(cls, func.attr)
                if m is not None:
                    out.append(_method_binding(m, r[0]))
            return out
        local_cls = _local_instance(scope, fn, obj, line)
        if local_cls is not None:
            m = scope.p.find_method(local_cls, func.attr)
            if m is not None:
                out.append(_method_binding(m, None))
        return out
    if isinstance(func, ast.Name):
        return _sym_callee(scope, scope.sym(fn, func, line))
    return out

def _sym_callee(scope: Scope, s: Sym | None) -> list[tuple[FuncInfo, Ref | None, bool]]:
    if s is None:
        return []
    if s.kind == "func" and s.func is not None:
        return [(s.func, None, False)]
    if s.kind == "class" and s.cls is not None:
        init = scope.p.find_method(s.cls, "__init__")
        return [(init, None, True)] if init is not None else []
    return []

def _local_instance(scope: Scope, fn: FuncInfo, obj: ast.expr, line: int) -> ClassInfo | None:
    """The class of a fresh local instance: `bot = Bot(); bot.run()`, `Bot().run()`."""
    if isinstance(obj, ast.Call):
        s = scope.sym(fn, obj.func, line)
        return s.cls if s is not None and s.kind == "class" else None
    if not isinstance(obj, ast.Name):
        return None
    kind, a, _ = scope.lookup(fn, obj.id, line)
    if kind == "local" and isinstance(a, ast.Call):
        s = scope.sym(fn, a.func, line)
        if s is not None and s.kind == "class":
            return s.cls
    return None

def wrappers(scope: Scope, fn: FuncInfo) -> list[FuncInfo]:
    """Inner functions of analysed decorators on `fn`: what a call to `fn` runs."""
    out: list[FuncInfo] = []
    for d in fn.node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        s = scope.sym(fn.parent, target, d.lineno) if fn.parent else \
            scope.p.module_expr(fn.module, target)
        if s is None or s.kind != "func" or s.func is None:
            continue
        # `@deco`: deco(fn) runs at import and its inner functions per call;
        # `@deco(args)`: one more level of nesting runs at import.
        level = list(s.func.nested.values())
        if isinstance(d, ast.Call):
            level = [inner for f in level for inner in f.nested.values()]
        out.extend(level)
    return out

def instance_cell(cls: ClassInfo) -> Cell:
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


def cache_decorator(scope: Scope, sym: Sym) -> ast.expr | None:
    """The lru_cache/cache/cachetools decorator on a function, if any."""
    fn = sym.func
    if fn is None:
        return None
    for d in fn.node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        s = scope.p.module_expr(fn.module, target)
        if s is not None and s.kind == "ext" and s.name in CACHE_DECORATORS:
            return d
    return None
