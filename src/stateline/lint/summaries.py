"""Per-function write summaries, iterated to a fixed point over the call graph.

A summary lists the writes a function performs, each aimed at a state cell or
at one of its own parameters. Parameter writes are what make a helper in
another module dangerous: when a caller passes a module-level dict to
`def put(d, k, v): d[k] = v`, the caller's summary gains a write to that dict at
the helper's line. The worklist re-runs callers until nothing changes.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from stateline.lint.caches import pure_memo
from stateline.lint.calls import bind_args, cache_decorator, callees, wrappers
from stateline.lint.dispatch import Dispatch
from stateline.lint.facts import RawWrite, facts_of
from stateline.lint.flags import once_flag
from stateline.lint.index import FuncInfo
from stateline.lint.libcaches import WRITES as LIB_CACHE_WRITES
from stateline.lint.libcaches import LibCaches
from stateline.lint.memos import (
    housekeeping_stamp,
    idempotent_seed,
    loads_code,
    result_used,
    validated,
    write_tags,
)
from stateline.lint.model import Cell, Param, Ref, Write
from stateline.lint.resolve import Sym
from stateline.lint.scope import Scope
from stateline.lint.service_state import (
    bus_kept,
    from_caller,
    housekeeping_tick,
    memo_companion,
    own_bookkeeping,
)
from stateline.lint.shapes import (
    AMBIGUOUS_METHODS,
    attr_kind,
    container_receiver,
    creates_plumbing,
    expiring_entry,
    guards_shared_work,
    holds_live_object,
    is_task,
    makes_client,
    memo_guard,
    pool_key,
    storeish,
    under_clock_test,
)
from stateline.lint.values import (
    CONTAINERS,
    GENERAL_MUTATORS,
    INERT,
    LIB_MUTATORS,
    REMOVERS,
    mutates,
)
from stateline.lint.write_sites import (
    del_ws,
    increment,
    is_ws,
    lazy_init_between,
    memo_write,
    removes,
    session_key,
    used_as_id,
)

LIB_METHODS = frozenset().union(*LIB_MUTATORS.values())
_ADDERS = frozenset({"add", "append", "appendleft", "insert", "setdefault"})
_CACHE_WRITES = frozenset({"set", "add", "incr", "decr", "get_or_set", "set_many", "touch",
                           "inc", "increment"})
RANDOM_CELL = Cell("global", "random", "random (the process-wide generator)", "random")
DJANGO_CACHE = Cell("global", "django.core.cache", "cache (local-memory backend)", "localcache")


# emit(target, op, node, detail=(), element=False): records one write of a function
Emit = Callable[..., None]


@dataclass
class Edge:
    callee: FuncInfo
    bindings: dict[str, tuple[Ref, bool]]
    call: ast.Call


def applies(cell: Cell, op: str, detail: tuple[str, ...], element: bool) -> bool:
    """Whether a write of shape `op` really changes what `cell` holds."""
    vk = cell.vkind
    if op == "rebind" or op in ("classattr", "cache_clear", "localcache", "memcache"):
        return True
    if op == "next":
        return vk in ("count", "iter") or bool({"count", "iter"} & set(detail))
    if op == "read":
        return vk == "defaultdict" and not element
    if op == "seed":
        return vk == "random"
    if op == "lock":
        return vk == "lock" and not element
    if vk in INERT and vk != "appstate":
        return False
    if element:
        return vk not in ("immutable", "none")
    if op == "setitem":
        return vk in CONTAINERS or vk in ("unknown", "appstate") or vk.startswith("instance:")
    if op == "setattr":
        return vk in ("unknown", "appstate") or vk.startswith("instance:")
    if op == "method":
        m = detail[0] if detail else ""
        if vk == "unknown":
            return m in GENERAL_MUTATORS and m not in AMBIGUOUS_METHODS
        if vk == "appstate":
            return m in GENERAL_MUTATORS
        return mutates(vk, m)
    return False


class Summaries:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.writes: dict[int, dict[tuple[object, ...], Write]] = {}
        self.edges: dict[int, list[Edge]] = {}
        self.funcs: dict[int, FuncInfo] = {}
        self.timed_caches: set[int] = set()
        self.caches = LibCaches(scope)  # per-process cache objects of libraries
        # tables filled with clients/engines/connections (shapes.makes_client), by
        # shapes.pool_key: their writes and removals are connection pooling
        self.pools: set[str] = set()
        # cells kept with the version of their source (memos.validated): their resets
        # and clears are memory hygiene, never a stale answer on another replica
        self.validated: set[Cell] = set()
        self.bus_modules: dict[str, bool] = {}  # service_state.bus_kept's answers

    # direct facts --------------------------------------------------------
    def edges_of(self, fn: FuncInfo) -> list[Edge]:
        key = id(fn)
        if key not in self.edges:
            self.edges[key] = self._edges(fn)
        return self.edges[key]

    def _edges(self, fn: FuncInfo) -> list[Edge]:
        sc = self.scope
        out: list[Edge] = []
        for call in facts_of(fn).calls:
            for callee, self_ref, bound in callees(sc, fn, call):
                binds: dict[str, tuple[Ref, bool]] = {}
                for pname, arg in bind_args(callee, call, bound).items():
                    r = sc.ref(fn, arg, call.lineno)
                    if r is not None:
                        binds[pname] = r
                if bound and self_ref is not None and callee.params:
                    part = sc.dispatch is not None and (
                        id(call), id(callee)) in sc.dispatch.element_calls
                    binds[callee.params[0]] = (self_ref, part)
                out.append(Edge(callee, binds, call))
                out.extend(Edge(w, {}, call) for w in wrappers(sc, callee))
            for arg in (*call.args, *(k.value for k in call.keywords)):
                if isinstance(arg, ast.Name | ast.Attribute):
                    s = sc.sym(fn, arg, call.lineno)
                    if s is not None and s.kind == "func" and s.func is not None:
                        out.append(Edge(s.func, {}, call))
        return out

    def direct(self, fn: FuncInfo) -> list[Write]:
        sc = self.scope
        f = facts_of(fn)
        src = fn.module.src
        out: list[Write] = []

        def emit(target: Ref, op: str, node: ast.AST, detail: tuple[str, ...] = (),
                 element: bool = False) -> None:
            if isinstance(target, Cell) and not applies(target, op, detail, element):
                return
            line = getattr(node, "lineno", fn.node.lineno)
            out.append(Write(target, op, src.display, fn.module.name, line,
                             getattr(node, "col_offset", 0) + 1, src.line_text(line),
                             fn.label, (), detail, element))

        for w in f.writes:
            line = getattr(w.node, "lineno", 0)
            if w.op == "rebind":
                if w.name in f.globals_decl:
                    s = sc.p.symbol(fn.module, w.name)
                    cell = sc.global_cell(s) if s is not None and s.kind == "global" else None
                    if cell is None:
                        cell = Cell("global", fn.module.name, w.name, "none")
                    guarded = any(g[0] == w.name and g[1] <= line <= g[2] for g in f.guards
                                  ) and not once_flag(fn.node, w.name, line)
                    if w.how == "=" and validated(fn, w.name, w.value, line, True):
                        self.validated.add(cell)
                        continue  # a memo kept with the version of its source (memos.py)
                    if w.how == "=" and housekeeping_stamp(fn, w.name, w.value):
                        continue  # when this process last swept / may retry (memos.py)
                    inc = increment(w)
                    emit(cell, "rebind", w.node, (w.how, "lazy" if guarded else "", inc,
                                                  "as-id" if inc and used_as_id(fn, w.name)
                                                  else "", *write_tags(
                                                      fn, w.name, "rebind", w.how, w.value,
                                                      None, line)))
                elif w.name in f.nonlocals:
                    r = sc.name_ref(fn, w.name, line)
                    if r is not None and isinstance(r[0], Cell):
                        emit(r[0], "rebind", w.node, (w.how, "", increment(w)))
                continue
            assert w.obj is not None
            if w.op == "setattr":
                target_mod = sc.sym(fn, w.obj, line)
                if target_mod is not None and target_mod.kind == "module" and \
                        target_mod.module is not None:
                    m = target_mod.module
                    cell = sc.global_cell(Sym("global", m, w.name)) if w.name in m.globals \
                        else Cell("global", m.name, w.name, "none")
                    if cell is not None:
                        emit(cell, "rebind", w.node, (w.how, "", increment(w)))
                    continue
                cls = sc.class_ref(fn, w.obj, line)
                if cls is not None and isinstance(w.obj, ast.Name) and memo_write(
                        f, f"{w.obj.id}.{w.name}", line):
                    continue  # `if cls._config is not None: return cls._config`: a memo
                if cls is not None and not sc.p.is_data_model(cls):
                    def memo(x: RawWrite) -> bool:
                        assert x.obj is not None
                        return memo_write(f, f"{ast.unparse(x.obj)}.{x.name}", getattr(
                            x.node, "lineno", 0)) and not from_caller(fn, x.value)
                    if memo(w) or (not from_caller(fn, w.value) and memo_companion(
                            fn, w, memo)):
                        continue  # `if Cls._url and ...: return Cls._url` ... a memo
                    emit(Cell("classattr", cls.module.name, f"{cls.qual}.{w.name}", "class"),
                         "classattr", w.node, (w.how, self._per_process(fn, w)))
                    continue
            if w.op == "setattr" and isinstance(w.obj, ast.Name) and memo_write(
                    f, f"{w.obj.id}.{w.name}", line) and not once_flag(
                    fn.node, f"{w.obj.id}.{w.name}", line):
                continue  # `if self.cache is not None: return self.cache` ... lazy memo
            if w.op == "setitem" and loads_code(fn):
                continue  # a registry of classes or of lazy imports (memos.loads_code)
            if w.op == "setitem" and holds_live_object(fn, w.value):
                continue  # bookkeeping of this process's own DB sessions/threads/tasks
            if w.op in ("setitem", "setattr") and self.pools and pool_key(
                    fn, w.obj) in self.pools:
                continue  # a per-process pool of clients, an entry of it, or a removal
            if w.op == "setitem" and w.how == "=" and pure_memo(sc, fn, w.obj, w.value):
                continue  # a hand-written memo of a pure function: like @lru_cache on one
            if w.op == "setitem" and w.how == "=" and validated(fn, ast.unparse(w.obj),
                                                                 w.value, line):
                r = sc.ref(fn, w.obj, line)
                if r is not None and isinstance(r[0], Cell) and not r[1]:
                    self.validated.add(r[0])
                continue  # a memo kept with the version of its source (memos.py)
            r = sc.ref(fn, w.obj, line)
            if r is None:
                continue
            detail = (w.how, "ws" if is_ws(fn, w.value) else "",
                      "session-key" if session_key(fn, w.key) else "",
                      "expiring" if w.op == "setitem" and expiring_entry(fn, w.value) else "",
                      *(write_tags(fn, ast.unparse(w.obj), w.op, w.how, w.value, w.key, line)
                        if w.op == "setitem" else ()))
            if w.how == "del" and isinstance(w.node, ast.Delete) and del_ws(fn, w):
                detail = (w.how, "ws-remove")
            own = self._per_process(fn, w)
            emit(r[0], w.op, w.node, (*detail, own) if own else detail, r[1])

        for call in f.calls:
            self._call_write(fn, call, emit)
        for sub in f.loads_sub:
            r = sc.ref(fn, sub.value, sub.lineno)
            if r is not None and isinstance(r[0], Cell) and not r[1]:
                emit(r[0], "read", sub, ())
        for ctx, stmt in f.withs:
            r = sc.ref(fn, ctx, stmt.lineno)
            if r is not None and isinstance(r[0], Cell) and r[0].vkind == "lock":
                end = stmt.end_lineno or stmt.lineno
                if not lazy_init_between(fn, stmt.lineno, end) and guards_shared_work(
                        stmt) and not memo_guard(stmt):
                    emit(r[0], "lock", stmt, (str(end),))
        tested = set()
        for c in f.membership:
            r = sc.ref(fn, c, getattr(c, "lineno", 0))
            if r is not None:
                tested.add(r[0])
        out[:] = [w for w in out if not (w.op == "read" and w.target in tested)
                  and not (w.op == "setitem" and w.target in tested and creates_plumbing(
                      sc, fn, w))]
        return out

    def _call_write(self, fn: FuncInfo, call: ast.Call, emit: Emit) -> None:
        sc = self.scope
        func = call.func
        line = call.lineno
        if isinstance(func, ast.Name) and func.id == "next" and call.args:
            r = sc.ref(fn, call.args[0], line)
            if r is not None and isinstance(r[0], Cell):
                emit(r[0], "next", call)
            elif r is not None:
                # `next(self._ids)`: what the attribute holds decides, once `self`
                # is bound to a long-lived instance.
                kind = attr_kind(sc, fn, call.args[0])
                if kind in ("count", "iter"):
                    emit(r[0], "next", call, (kind,), r[1])
            return
        if not isinstance(func, ast.Attribute):
            return
        m = func.attr
        if m == "seed":
            dotted = sc.dotted(fn, func, line)
            if dotted in ("random.seed", "numpy.random.seed"):
                emit(RANDOM_CELL, "seed", call)
                return
        if m == "cache_clear":
            s = sc.sym(fn, func.value, line)
            if s is not None and s.kind == "func" and s.func is not None and cache_decorator(
                    sc, s):
                if under_clock_test(fn, call):
                    # `if now - _last > ONE_DAY: f.cache_clear()`: a hand-made expiry,
                    # each process on its own timer (the cache is SL119, not SL107)
                    self.timed_caches.add(id(s.func))
                    return
                emit(Cell("cache", s.func.module.name, f"{s.func.qual} (decorator cache)",
                          "container"), "cache_clear", call)
            return
        if m in _CACHE_WRITES:
            recv = func.value
            if isinstance(recv, ast.Subscript):
                recv = recv.value
            if sc.dotted(fn, recv, line) in ("django.core.cache.cache",
                                              "django.core.cache.caches"):
                # a flag, lock or counter coordinates (SL118); a value is a cache (SL119)
                emit(DJANGO_CACHE, "localcache" if _coordinates(m, call) else "memcache",
                     call, (m,))
                return
        if m in LIB_CACHE_WRITES:
            cell = self.caches.cell(fn, func.value, line)
            if cell is not None:
                emit(cell, "memcache", call, (m,))
                return
        if m == "acquire":
            r = sc.ref(fn, func.value, line)
            end = fn.node.end_lineno or line
            if r is not None and isinstance(r[0], Cell) and r[0].vkind == "lock" and \
                    not lazy_init_between(fn, line, end):
                emit(r[0], "lock", call, (str(end),))
            return
        if m == "seed" or m in GENERAL_MUTATORS or m in LIB_METHODS:
            r = sc.ref(fn, func.value, line)
            if r is None:
                return
            target, element = r
            if element and storeish(func.value):
                return
            if m not in GENERAL_MUTATORS and m != "seed" and not (
                    isinstance(target, Cell) and target.vkind.startswith("lib:")
                    and not element):
                return  # `.put()`/`.add_job()` only on a known library object itself
            if call.args and is_task(fn, call.args[-1]):
                return  # a set that keeps asyncio tasks alive until they finish
            if idempotent_seed(call) or result_used(fn, call):
                return  # a slot seeded under a constant key / not a builtin's method
            if m in ("put", "put_nowait") and isinstance(target, Cell) and not element and \
                    self._consumed_here(target):
                return  # a hand-off to this process's own consumer task, not kept data
            if self.pools and pool_key(fn, func.value) in self.pools:
                return  # a per-process pool of clients (shapes.makes_client)
            # `.add`/`.update`/`.insert` on something not known to be a builtin
            # container (ORM classmethods, query builders, SQLAlchemy tables)
            if m in AMBIGUOUS_METHODS and element and not (
                    isinstance(target, Cell) and target.vkind in CONTAINERS
                    and target.vkind != "container") and not container_receiver(
                        sc, fn, func.value):
                return
            if m in AMBIGUOUS_METHODS and element and isinstance(target, Cell) and \
                    self._table_of_handlers(target):
                return  # `CLASSES.get(kind).update(...)`: an element is a class, not a dict
            ws = ""
            if call.args and is_ws(fn, call.args[-1]):
                ws = "ws-remove" if m in REMOVERS else ("ws" if m in _ADDERS else "")
            if m == "seed":
                emit(target, "seed", call)
            else:
                bus = ("bus",) if bus_kept(fn, func.value, self.bus_modules) else ()
                emit(target, "method", call, (m, ws, *write_tags(
                    fn, ast.unparse(func.value), "method", m, None,
                    call.args[0] if call.args else None, line), *bus), element)

    def _per_process(self, fn: FuncInfo, w: RawWrite) -> str:
        """"own" for a service object's own bookkeeping, "bus" for a table a shared bus
        keeps in step (service_state.py); the checker drops both on long-lived
        instances other than an entry's own."""
        if bus_kept(fn, w.obj, self.bus_modules):
            return "bus"
        if housekeeping_tick(fn, w):
            return "tick"
        return "own" if own_bookkeeping(fn, w) else ""

    def _consumed_here(self, cell: Cell) -> bool:
        """An asyncio/threading queue that this code base also reads with `.get()`: a
        producer/consumer hand-off inside the process (each worker drains its own)."""
        if not cell.vkind.startswith("lib:") or "Queue" not in cell.vkind:
            return False
        short = cell.name.rsplit(".", 1)[-1]
        needles = (f"{short}.get(", f"{short}.get_nowait(")
        return any(n in m.src.text for m in self.scope.p.modules for n in needles)

    def _table_of_handlers(self, cell: Cell) -> bool:
        """A module-level table of classes, functions or instances (dispatch.py)."""
        if cell.kind != "global":
            return False
        if self.scope.dispatch is None:
            self.scope.dispatch = Dispatch(self.scope)
        mod = next((m for m in self.scope.p.modules if m.name == cell.module), None)
        return mod is not None and bool(self.scope.dispatch.table(mod, cell.name))

    # fixed point ---------------------------------------------------------
    def _find_pools(self, funcs: list[FuncInfo]) -> None:
        """Tables of clients or of this process's own live objects. The methods of the
        classes reached are read too: a removal may be reached where the fill is not."""
        todo = {id(f): f for f in funcs}
        for fn in funcs:
            if fn.cls is not None and removes(fn):
                todo.update((id(m), m) for m in fn.cls.methods.values())
        for fn in todo.values():
            for call in facts_of(fn).calls:
                # `LOCKS.setdefault(key, threading.Lock())`: a table of locks (or clients)
                if isinstance(call.func, ast.Attribute) and call.func.attr == "setdefault" \
                        and len(call.args) == 2 and makes_client(self.scope, fn, call.args[1],
                                                                 call.lineno):
                    self.pools.add(pool_key(fn, call.func.value))
            for w in facts_of(fn).writes:
                if w.op == "setitem" and w.how != "del" and w.obj is not None and (
                        holds_live_object(fn, w.value) or makes_client(
                            self.scope, fn, w.value, getattr(w.node, "lineno", 0))):
                    self.pools.add(pool_key(fn, w.obj))

    def solve(self, funcs: list[FuncInfo]) -> None:
        callers: dict[int, list[tuple[FuncInfo, Edge]]] = defaultdict(list)
        self._find_pools(funcs)
        for fn in funcs:
            self.funcs[id(fn)] = fn
            table = self.writes.setdefault(id(fn), {})
            for w in self.direct(fn):
                table.setdefault(_key(w), w)
            for e in self.edges_of(fn):
                callers[id(e.callee)].append((fn, e))
        work = list(funcs)
        queued = {id(f) for f in work}
        while work:
            g = work.pop()
            queued.discard(id(g))
            params = [w for w in self.writes.get(id(g), {}).values()
                      if isinstance(w.target, Param)]
            if not params:
                continue
            for f, e in callers.get(id(g), ()):
                table = self.writes.setdefault(id(f), {})
                grew = False
                for w in params:
                    assert isinstance(w.target, Param)
                    bound = e.bindings.get(w.target.name)
                    if bound is None:
                        continue
                    target, element = bound
                    element = element or w.element
                    if isinstance(target, Cell) and not applies(target, w.op, w.detail,
                                                                element):
                        continue
                    detail = w.detail
                    if isinstance(target, Cell) and f.module.name != w.module:
                        # state handed to a helper that lives in another module
                        detail = (*detail, "passed-from-another-module")
                    nw = replace(w, target=target, element=element, detail=detail,
                                 via=(g.label, *w.via) if not w.via or w.via[0] != g.label
                                 else w.via)
                    k = _key(nw)
                    if k not in table:
                        table[k] = nw
                        grew = True
                if grew and id(f) not in queued:
                    work.append(f)
                    queued.add(id(f))

    def of(self, fn: FuncInfo) -> list[Write]:
        return list(self.writes.get(id(fn), {}).values())


def _coordinates(method: str, call: ast.Call) -> bool:
    """`cache.add(k, 1)`, `cache.incr(k)`, `cache.set("ran", True)`: a dedup key, a lock
    or a counter, not a cached value."""
    if method != "set" and method != "get_or_set":
        return True
    value = call.args[1] if len(call.args) > 1 else next(
        (k.value for k in call.keywords if k.arg == "value"), None)
    return isinstance(value, ast.Constant)


def _key(w: Write) -> tuple[object, ...]:
    return (w.target, w.path, w.line, w.col, w.op)


