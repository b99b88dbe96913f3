"""What a long-lived service object writes to itself that is per-process by design.

A module-level singleton (a metrics collector, a circuit breaker, a connection
pool, an admission controller, a lazily built service) keeps two kinds of
attributes. Its own bookkeeping — when it last checked, how many failures it
saw, the instruments and tasks it created, readings of this machine — is made
from constants, clocks, system readings and its own attributes, never from what
a caller handed in: every replica keeping its own copy is the design. Request
data — a session, an OAuth state, a per-user entry, a job's status — arrives
through the method's parameters, usually under a key taken from them. These
functions tell the first kind apart, syntax only, so that summaries.py can mark
such writes and checker.py can leave them out on long-lived instances (an
entry's own instance, Django/ASGI middleware counting requests, stays reported).

Tables of a class whose module subscribes to a shared bus (Redis pub/sub or
streams, Postgres LISTEN) are that process's delivery sets or caches kept in
step by the bus: each replica delivers to its own sockets, or drops its copy
when the bus says so. Those are marked too.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from stateline.lint.facts import RawWrite, facts_of
from stateline.lint.index import FuncInfo, ModuleInfo
from stateline.lint.values import GENERAL_MUTATORS

# names that carry the request even when no parameter does (Flask's globals)
_REQUEST_NAMES = frozenset({"request", "g", "session", "websocket", "ws", "current_user"})
# a call that subscribes this process to a shared bus
_BUS_CALLS = frozenset({"xread", "xreadgroup", "pubsub", "add_listener", "psubscribe",
                        "ssubscribe"})


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _root(node.func.value)  # `self._summaries[k].get(w, S())`
    return node


def _owner_names(fn: FuncInfo) -> set[str]:
    """`self`/`cls` and the class's own name, inside one of its methods."""
    names = {fn.params[0]} if fn.params and fn.params[0] in ("self", "cls") else set()
    if fn.cls is not None:
        names.add(fn.cls.name)
    return names


def _self_rooted(fn: FuncInfo, obj: ast.expr, owners: set[str], depth: int = 0) -> bool:
    """`self.x`, `self._stats`, `cls._cache`, or a local read out of one
    (`summary = self._summaries[k].get(w, Summary())`)."""
    root = _root(obj)
    if not isinstance(root, ast.Name):
        return False
    if root.id in owners:
        return True
    if depth > 2:
        return False
    values = facts_of(fn).assigns.get(root.id, ())
    return bool(values) and all(v is not None and _self_rooted(fn, v, owners, depth + 1)
                                for _, v in values)


def _process_call(call: ast.Call) -> bool:
    """A call whose result describes this process, not data: a clock, a reading of this
    machine, an environment variable, a builtin on such values, or an instrument or task
    the object creates (`meter.create_counter(...)`, `asyncio.create_task(...)`)."""
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    owner = _root(f.value) if isinstance(f, ast.Attribute) else None
    owner_id = owner.id if isinstance(owner, ast.Name) else ""
    return (name in _CLOCKS or (name in _BUILTINS and isinstance(f, ast.Name))
            or name.startswith("create_") or name in ("ensure_future", "getenv")
            or owner_id in _SYSTEM_MODULES or ast.unparse(f) == "os.environ.get")


_CHANGERS = GENERAL_MUTATORS | {"update", "refresh", "reload", "load", "rebuild", "reset"}


def _config_attrs(fn: FuncInfo) -> set[str]:
    """Attributes of `fn`'s class that only `__init__` sets and nothing later rebinds or
    mutates: the object's configuration (thresholds, intervals, settings, its meter)."""
    cls = fn.cls
    if cls is None:
        return set()
    set_in_init: set[str] = set()
    changed: set[str] = set()
    for m in cls.methods.values():
        init = m.name == "__init__"
        for n in ast.walk(m.node):
            targets: list[ast.expr] = []
            if isinstance(n, ast.Assign):
                targets = list(n.targets)
            elif isinstance(n, ast.AugAssign | ast.AnnAssign):
                targets = [n.target]
            for t in targets:
                while isinstance(t, ast.Subscript):
                    t = t.value
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and \
                        t.value.id == "self":
                    (set_in_init if init else changed).add(t.attr)
            if not init and isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) \
                    and n.func.attr in _CHANGERS:
                root = n.func.value
                while isinstance(root, ast.Attribute | ast.Subscript) and not (
                        isinstance(root, ast.Attribute) and isinstance(root.value, ast.Name)):
                    root = root.value
                if isinstance(root, ast.Attribute) and isinstance(root.value, ast.Name) and \
                        root.value.id == "self":
                    changed.add(root.attr)
    return set_in_init - changed


def _task_maker(call: ast.Call) -> bool:
    f = call.func
    return (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")) in (
        "create_task", "ensure_future")


_CLOCKS = frozenset({"time", "monotonic", "perf_counter", "monotonic_ns", "time_ns", "now",
                     "utcnow", "today", "utcnow_naive"})
_BUILTINS = frozenset({"len", "min", "max", "int", "float", "round", "abs", "sum", "bool"})
_SYSTEM_MODULES = frozenset({"psutil", "resource", "platform", "shutil"})


def tainted(fn: FuncInfo, expr: ast.expr | None, depth: int = 0, own: str = "") -> bool:
    """Whether `expr` may carry data rather than a reading of this process: a parameter
    other than `self`/`cls`, the request's globals, a call other than a clock, a system
    reading or an instrument factory (`_process_call`: a DB read or a constructor is
    data), or a local built from any of those. Constants, the object's own attributes and
    arithmetic on them do not."""
    if expr is None:
        return True
    params = set(fn.params[1:] if fn.params and fn.params[0] in ("self", "cls")
                 else fn.params)
    assigns = facts_of(fn).assigns
    started: set[int] = set()  # coroutines handed to create_task: the task is made here
    config: set[str] | None = None
    for n in ast.walk(expr):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and \
                n.value.id in ("self", "cls") and n.attr != own:
            # the object's own attribute: configuration only if nothing after __init__
            # rebinds or mutates it (`self.scope.update()` makes `self.scope` data)
            if config is None:
                config = _config_attrs(fn)
                if fn.cls is not None:
                    config |= set(fn.cls.methods)  # `self._worker()`: code, not data
            if n.attr not in config:
                return True
        if isinstance(n, ast.Call) and _task_maker(n):
            started.update(id(a) for a in n.args if isinstance(a, ast.Call))
        if isinstance(n, ast.Call) and id(n) not in started and not _process_call(n):
            return True
        if isinstance(n, ast.Await | ast.Yield | ast.YieldFrom | ast.Lambda):
            return True
        if not isinstance(n, ast.Name):
            continue
        if n.id in params or n.id in _REQUEST_NAMES:
            return True
        values = assigns.get(n.id)
        if values and (depth > 3 or any(v is None or tainted(fn, v, depth + 1, own)
                                        for _, v in values)):
            return True
    return False


def _only_once(fn: FuncInfo, target: str, line: int) -> bool:
    """`if ... and not self._warned: send(); self._warned = key`: a flag that makes a
    side effect happen once — per replica, which is the bug (alert de-duplication)."""
    for n in ast.walk(fn.node):
        if not isinstance(n, ast.If) or not n.body or not (
                n.body[0].lineno <= line <= (n.body[-1].end_lineno or n.lineno)):
            continue
        for t in ast.walk(n.test):
            if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not) and \
                    ast.unparse(t.operand) == target:
                return True
            if isinstance(t, ast.Compare) and ast.unparse(t.left) == target and any(
                    isinstance(c, ast.Constant) and c.value in (None, False)
                    for c in t.comparators):
                return True
    return False


def _counter_kept_as_one(fn: FuncInfo, target: str, attr: str) -> bool:
    """A counter the class resets to a constant or compares with a threshold (a
    circuit breaker's failures). A counter it only adds to and reports (`_stats["hits"]
    += 1`) is a count of requests like any other: reported."""
    if fn.cls is None or not attr:
        return False
    for m in fn.cls.methods.values():
        if m.name == "__init__":
            continue
        for n in ast.walk(m.node):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and any(
                    isinstance(t, ast.Attribute) and t.attr == attr for t in n.targets):
                return True
            if isinstance(n, ast.Compare) and isinstance(n.left, ast.Attribute) and \
                    n.left.attr == attr and isinstance(n.ops[0], ast.Gt | ast.GtE | ast.Lt
                                                       | ast.LtE):
                return True
    return False


def own_bookkeeping(fn: FuncInfo, w: RawWrite) -> bool:
    """A write of a service object's own bookkeeping: through `self`/`cls` in one of its
    methods, an attribute (or an item under a constant key), the value made without
    anything the caller handed in, and no once-only flag."""
    if fn.cls is None or w.obj is None or w.how == "del" or w.op not in ("setattr",
                                                                         "setitem"):
        return False
    owners = _owner_names(fn)
    if not owners or not _self_rooted(fn, w.obj, owners):
        return False
    if w.op == "setitem" and not isinstance(w.key, ast.Constant):
        return False
    own = w.name if w.op == "setattr" and isinstance(w.obj, ast.Name) else (
        w.obj.attr if isinstance(w.obj, ast.Attribute) else "")
    if tainted(fn, w.value, own=own) or (w.op == "setitem" and from_caller(fn, w.obj)):
        return False
    target = ast.unparse(w.obj) + (f".{w.name}" if w.op == "setattr" else
                                   f"[{ast.unparse(w.key)}]" if w.key is not None else "")
    line = getattr(w.node, "lineno", 0)
    if _only_once(fn, target, line):
        return False
    counts = w.how == "aug" or (isinstance(w.value, ast.BinOp)
                                and target in ast.unparse(w.value.left))
    attr = w.name if w.op == "setattr" else ""
    return not counts or _counter_kept_as_one(fn, target, attr)


def bus_fed(mod: ModuleInfo) -> bool:
    """Whether `mod` subscribes to a shared bus: `pubsub()`, `subscribe*()`, `xread`,
    `add_listener` (Postgres LISTEN). Calls only, not words in docstrings."""
    text = mod.src.text
    tree = mod.src.tree
    if tree is None or not any(w in text for w in ("subscribe", "xread", "pubsub",
                                                   "add_listener")):
        return False
    for n in ast.walk(tree):
        attr = n.func.attr.lower() if isinstance(n, ast.Call) and isinstance(
            n.func, ast.Attribute) else ""
        if attr in _BUS_CALLS or ("subscribe" in attr and not attr.startswith("unsub")):
            return True
    return False


def bus_kept(fn: FuncInfo, obj: ast.expr | None, cache: dict[str, bool]) -> bool:
    """A write through `self` in a class whose module subscribes to a shared bus: the
    process's delivery set or a copy the bus keeps in step. `cache` holds the answer
    per module name for one analysis."""
    if fn.cls is None or obj is None or not fn.params or fn.params[0] != "self":
        return False
    root = _root(obj)
    if not isinstance(root, ast.Name) or root.id != "self":
        return False
    name = fn.module.name
    if name not in cache:
        cache[name] = bus_fed(fn.module)
    return cache[name]


def housekeeping_tick(fn: FuncInfo, w: RawWrite) -> bool:
    """`self._n += 1; if self._n % 100 == 0: self._cleanup()`: a counter read only to
    schedule the object's own housekeeping every N calls holds no data."""
    if fn.cls is None or w.op != "setattr" or w.how != "aug" or not isinstance(
            w.obj, ast.Name) or not fn.params or w.obj.id != fn.params[0]:
        return False
    if not (isinstance(w.value, ast.Constant) and w.value.value == 1):
        return False
    ticks = reads = 0
    for m in fn.cls.methods.values():
        for n in ast.walk(m.node):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mod) and isinstance(
                    n.left, ast.Attribute) and n.left.attr == w.name:
                ticks += 1
            if isinstance(n, ast.Attribute) and n.attr == w.name and isinstance(
                    n.ctx, ast.Load):
                reads += 1
    return ticks > 0 and reads == ticks


def from_caller(fn: FuncInfo, expr: ast.expr | None, depth: int = 0) -> bool:
    """Whether `expr` uses what the caller handed in (a parameter other than `self`/`cls`,
    the request's globals), directly or through a local."""
    if expr is None:
        return False
    params = set(fn.params[1:] if fn.params and fn.params[0] in ("self", "cls")
                 else fn.params)
    assigns = facts_of(fn).assigns
    for n in ast.walk(expr):
        if not isinstance(n, ast.Name):
            continue
        if n.id in params or n.id in _REQUEST_NAMES:
            return True
        if depth < 3 and any(from_caller(fn, v, depth + 1)
                             for _, v in assigns.get(n.id, ()) if v is not None):
            return True
    return False


def memo_companion(fn: FuncInfo, w: RawWrite, is_memo: Callable[[RawWrite], bool]) -> bool:
    """`Cls._url = url; Cls._url_env = env` in one block, the first a memo: the second
    records what the memo was computed for (its key), part of the same lazy value."""
    for n in ast.walk(fn.node):
        for name in ("body", "orelse"):
            block = getattr(n, name, None)
            if not isinstance(block, list) or w.node not in block:
                continue
            for other in facts_of(fn).writes:
                if other is not w and other.node in block and other.op == "setattr" and \
                        other.obj is not None and w.obj is not None and \
                        ast.unparse(other.obj) == ast.unparse(w.obj) and is_memo(other):
                    return True
    return False
