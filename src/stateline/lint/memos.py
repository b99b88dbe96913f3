"""What a per-process cache, memo or one-time initialiser looks like in the syntax.

Services keep many module-level dicts and globals on purpose: a read-through
cache with an expiry or a size bound, a memo validated against the version it
was built from, a secret or config value loaded once. None of these is data one
request leaves for another: every replica fills its own copy from the same
source. This module recognises them by shape, so the checker can report a
cache as SL119 (info) instead of an error, and stay silent on what is safe:

- `write_tags`: what one write says about itself (`fill`: the function looked
  the table up before writing it; `stamped`: the entry carries the current
  clock; `ttl`: the function compares a clock difference with a short span;
  `bounded`: an eviction of the oldest entry or a clear on overflow; `deadline`:
  the entry carries `now + short span`; `key:<k>`: the entry's key, so that a
  metadata table written under the same key is known as the cache's own).
- `validated`: an entry stored with the version it was built from and compared
  against the current one before use (an mtime, a signature): never stale.
- `once_guarded`: a zero-argument function that returns early once a global
  (or class attribute) it sets later is set: its body runs once per process.
- `loads_code`: a function that registers a class it is handed, or imports one
  by its dotted path: its tables hold code, the same on every replica.
- `CACHE_NAME`: names that say cache/memo.
"""

from __future__ import annotations

import ast
import re

from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo

CACHE_NAME = re.compile(r"cache|memo", re.IGNORECASE)
_CLOCK_CALLS = frozenset({"time", "monotonic", "now", "utcnow", "perf_counter",
                          "monotonic_ns", "time_ns"})
_SHORT_S = 86_400
_REMOVALS = frozenset({"pop", "popitem", "clear", "remove", "discard"})


def _clock_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    if name in ("int", "float", "round") and node.args:
        return _clock_call(node.args[0])
    return name in _CLOCK_CALLS


def _clock_names(fn: FuncInfo) -> set[str]:
    """Locals bound to a bare clock reading: `now = time.monotonic()`."""
    return {name for name, binds in facts_of(fn).assigns.items()
            if binds and all(v is not None and _clock_call(v) for _, v in binds)}


def _is_clock(fn: FuncInfo, node: ast.AST, clocks: set[str]) -> bool:
    return _clock_call(node) or (isinstance(node, ast.Name) and node.id in clocks)


def constant_seconds(fn: FuncInfo, node: ast.AST, depth: int = 0) -> float | None:
    """A number known from the syntax: a literal, `5 * 60`, a module constant."""
    if depth > 3:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and \
            not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Add):
        a = constant_seconds(fn, node.left, depth + 1)
        b = constant_seconds(fn, node.right, depth + 1)
        if a is None or b is None:
            return None
        return a * b if isinstance(node.op, ast.Mult) else a + b
    if isinstance(node, ast.Call) and (node.func.attr if isinstance(node.func, ast.Attribute)
                                       else getattr(node.func, "id", "")) == "timedelta":
        total = 0.0
        for k in node.keywords:
            unit = _UNITS.get(k.arg or "")
            v = constant_seconds(fn, k.value, depth + 1)
            if unit is None or v is None:
                return None
            total += unit * v
        if node.args:
            v = constant_seconds(fn, node.args[0], depth + 1)
            if v is None:
                return None
            total += 86_400 * v
        return total
    if isinstance(node, ast.Name | ast.Attribute):
        name = node.id if isinstance(node, ast.Name) else node.attr
        value = fn.module.globals.get(name)
        if value is not None:
            return constant_seconds(fn, value, depth + 1)
        if fn.cls is not None and isinstance(node, ast.Attribute):
            for st in fn.cls.node.body:
                if isinstance(st, ast.Assign | ast.AnnAssign) and st.value is not None and \
                        name in ast.unparse(st).split("=", 1)[0]:
                    return constant_seconds(fn, st.value, depth + 1)
    return None


_UNITS = {"days": 86_400.0, "hours": 3_600.0, "minutes": 60.0, "seconds": 1.0,
          "milliseconds": 0.001, "weeks": 604_800.0}


def _short(fn: FuncInfo, node: ast.AST) -> bool:
    s = constant_seconds(fn, node)
    return s is not None and 0 < s <= _SHORT_S


def _value_parts(fn: FuncInfo, value: ast.expr | None, line: int) -> list[ast.AST]:
    """The value, and for a local name the expressions it was bound to."""
    if value is None:
        return []
    out: list[ast.AST] = [value]
    if isinstance(value, ast.Name):
        out.extend(v for ln, v in facts_of(fn).assigns.get(value.id, ())
                   if v is not None and ln <= line)
    return out


def _stamped(fn: FuncInfo, value: ast.expr | None, line: int, clocks: set[str]) -> bool:
    """The entry holds the current clock (a creation time), not `now + span`."""
    for part in _value_parts(fn, value, line):
        elts: list[ast.AST] = []
        if isinstance(part, ast.Tuple | ast.List):
            elts = list(part.elts)
        elif isinstance(part, ast.Dict):
            elts = [v for v in part.values if v is not None]
        elif isinstance(part, ast.Call):
            elts = [*part.args, *(k.value for k in part.keywords)]
        if any(_is_clock(fn, e, clocks) for e in elts):
            return True
    return False


def _deadline(fn: FuncInfo, value: ast.expr | None, line: int, clocks: set[str]) -> bool:
    """The entry holds `now + span` with a span of at most a day (also via a local:
    `expires_at = time.monotonic() + TTL; C[k] = (expires_at, v)`)."""
    parts = _value_parts(fn, value, line)
    for part in list(parts):
        for n in ast.walk(part):
            if isinstance(n, ast.Name):
                parts.extend(v for _, v in facts_of(fn).assigns.get(n.id, ()) if v is not None)
    for part in parts:
        for n in ast.walk(part):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
                for clock, span in ((n.left, n.right), (n.right, n.left)):
                    if _is_clock(fn, clock, clocks) and _short(fn, span):
                        return True
    return False


def ttl_compare(fn: FuncInfo) -> bool:
    """`now - cached_at < TTL`, `time.time() - e["ts"] >= MAX_AGE`, with a span of at
    most a day: the function checks an entry's age against a short expiry."""
    clocks = _clock_names(fn)
    for n in ast.walk(fn.node):
        if not isinstance(n, ast.Compare) or len(n.ops) != 1:
            continue
        left, right = _seconds_of(n.left), _seconds_of(n.comparators[0])
        for age, span in ((left, right), (right, left)):
            # `now - ts < TTL`, `(now - ts).total_seconds() > 300`
            if isinstance(age, ast.BinOp) and isinstance(age.op, ast.Sub) and _is_clock(
                    fn, age.left, clocks) and _short(fn, span):
                return True
            # `ts + TTL < now`
            if isinstance(age, ast.BinOp) and isinstance(age.op, ast.Add) and _is_clock(
                    fn, span, clocks) and (_short(fn, age.right) or _short(fn, age.left)):
                return True
    return False


def _seconds_of(node: ast.expr) -> ast.expr:
    """`(a - b).total_seconds()` → `a - b`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr == "total_seconds" and not node.args:
        return node.func.value
    return node


def _looked_up(fn: FuncInfo, text: str, line: int, rebind: bool = False) -> bool:
    """`T.get(k)`, `k in T`, `T[k]` (a load) before `line`; for a rebound global, any
    read of it in the function (`cached_at, value = _CACHE`)."""
    f = facts_of(fn)
    if any(isinstance(c.func, ast.Attribute) and c.func.attr in ("get", "__contains__")
           and ast.unparse(c.func.value) == text and c.lineno <= line for c in f.calls):
        return True
    if any(ast.unparse(m) == text and getattr(m, "lineno", 0) <= line for m in f.membership):
        return True
    if any(ast.unparse(s.value) == text and s.lineno <= line for s in f.loads_sub):
        return True
    return rebind and text in f.names_read


def _under_len_test(fn: FuncInfo, text: str, line: int) -> bool:
    for n in ast.walk(fn.node):
        if isinstance(n, ast.If | ast.While) and n.body and n.body[0].lineno <= line <= (
                n.body[-1].end_lineno or n.lineno):
            t = ast.unparse(n.test)
            low = t.lower()
            if "len(" in t or (("usage" in low or "size" in low) and ">" in t):
                return True
    return False


def _oldest_key(fn: FuncInfo, key: ast.AST | None) -> bool:
    """`oldest = min(T, key=...)`, `next(iter(T))`: the entry evicted first."""
    if not isinstance(key, ast.Name):
        return False
    for _, v in facts_of(fn).assigns.get(key.id, ()):
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in (
                "min", "next", "sorted"):
            return True
    return False


def write_tags(fn: FuncInfo, text: str, op: str, how: str, value: ast.expr | None,
               key: ast.AST | None, line: int) -> tuple[str, ...]:
    """The cache evidence of one write of `text` (the table or global written):
    op is rebind | setitem | method (how: the method name or "=", "aug", "del")."""
    clocks = _clock_names(fn)
    tags: list[str] = []
    removal = how == "del" or (op == "method" and how in _REMOVALS)
    if not removal and how != "aug" and op in ("rebind", "setitem") and _looked_up(
            fn, text, line, op == "rebind"):
        tags.append("fill")
    if op in ("rebind", "setitem") and how == "=":
        if _stamped(fn, value, line, clocks):
            tags.append("stamped")
        if _deadline(fn, value, line, clocks):
            tags.append("deadline")
    if removal and (how == "popitem" or _under_len_test(fn, text, line) or _oldest_key(
            fn, key)):
        tags.append("bounded")
    if ttl_compare(fn):
        tags.append("ttl")
    if key is not None:
        tags.append(f"key:{ast.unparse(key)}")  # which entry: ties bookkeeping to a cache
    return tuple(tags)


def validated(fn: FuncInfo, text: str, value: ast.expr | None, line: int,
              rebind: bool = False) -> bool:
    """`cached = (mtime, load(p)); T[p] = cached` after `if cached[0] != mtime`,
    `_png = SpritePng(signature=sig, png=png)` after `_png.signature == sig`: the entry
    carries the version of its source and is used only when that version is current,
    so no replica ever serves a stale one."""
    looked = _looked_up(fn, text, line, rebind)
    clocks = _clock_names(fn)
    versions: set[str] = set()
    for part in _value_parts(fn, value, line):
        elts: list[ast.AST] = []
        if isinstance(part, ast.Tuple | ast.List):
            elts = list(part.elts)
        elif isinstance(part, ast.Call):
            elts = [*part.args, *(k.value for k in part.keywords)]
        if len(elts) >= 2:
            versions.update(e.id for e in elts if isinstance(e, ast.Name) and e.id not in clocks)
    # a version is computed from the source here (`os.stat(p).st_mtime`,
    # `signature(icons)`), never a value the caller passed in (a user id, a token)
    binds = facts_of(fn).assigns
    versions = {v for v in versions if v not in fn.params and binds.get(v) and all(
        b is not None and any(isinstance(n, ast.Call) for n in ast.walk(b))
        for _, b in binds[v])}
    if not versions:
        return False
    # locals that hold what was looked up: `cached = T.get(p)`
    holders = {text}
    for name, binds in facts_of(fn).assigns.items():
        if any(v is not None and text in ast.unparse(v) for _, v in binds):
            holders.add(name)
    declared = facts_of(fn).globals_decl
    for n in ast.walk(fn.node):
        if isinstance(n, ast.Compare) and len(n.ops) == 1 and isinstance(
                n.ops[0], ast.Eq | ast.NotEq):
            sides = (n.left, n.comparators[0])
            for ver, stored in (sides, sides[::-1]):
                if not (isinstance(ver, ast.Name) and ver.id in versions):
                    continue
                names = {x.id for x in ast.walk(stored) if isinstance(x, ast.Name)}
                if looked and (names & holders or text in ast.unparse(stored)):
                    return True
                # a sibling memo validated by the same version in the same function:
                # `if _png.signature == sig: return ...; _index = Index(signature=sig)`
                if isinstance(stored, ast.Attribute | ast.Subscript) and names & declared:
                    return True
    return False


_HOUSEKEEPING = re.compile(r"sweep|clean|prune|purge|evict|reap|vacuum|housekeep|gc_|_gc|"
                           r"retry|reconnect|refresh|reload|flush|compact|trim|rotat",
                           re.IGNORECASE)


def housekeeping_stamp(fn: FuncInfo, name: str, value: ast.expr | None) -> bool:
    """`_last_sweep_at = time.time()`, `_next_retry_at = now + RETRY_S`, `= 0.0`: when
    this process last ran (or may next run) its own maintenance. Each replica sweeps,
    retries or refreshes on its own timer; a stamp named for an alert or a job that
    must run once is not this (it stays reported)."""
    if value is None or not _HOUSEKEEPING.search(name):
        return False
    clocks = _clock_names(fn)
    if isinstance(value, ast.Constant) and isinstance(value.value, int | float):
        return True
    if _is_clock(fn, value, clocks):
        return True
    return isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add) and any(
        _is_clock(fn, x, clocks) for x in (value.left, value.right))


def idempotent_seed(call: ast.Call) -> bool:
    """`REGISTRY.setdefault("ai_providers", {})`, `p.setdefault("openai", Default())`:
    a slot seeded under a constant key. Every call leaves the same entry, so it holds
    no request data (a request-derived key, `ROOMS.setdefault(room, set())`, does)."""
    return isinstance(call.func, ast.Attribute) and call.func.attr == "setdefault" and \
        bool(call.args) and isinstance(call.args[0], ast.Constant) and isinstance(
            call.args[0].value, str)


_NONE_RETURNING = frozenset({"sort", "reverse", "append", "extend", "insert", "remove",
                             "clear", "update", "add", "discard", "appendleft", "extendleft"})


def result_used(fn: FuncInfo, call: ast.Call) -> bool:
    """`sorted_df = df.sort(...)`: the builtin containers' `sort`/`append`/`update`...
    return None, so a call whose result is kept is some other type's method (a
    DataFrame's, a query builder's), not a container mutation."""
    if not isinstance(call.func, ast.Attribute) or call.func.attr not in _NONE_RETURNING:
        return False
    return any(v is call for binds in facts_of(fn).assigns.values() for _, v in binds) or any(
        r is call for r in facts_of(fn).returns)


def _guard_target(test: ast.expr) -> list[str]:
    """`X`, `X is not None`, `X and ...`: what a truthy early-return guard tests."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return [t for v in test.values for t in _guard_target(v)]
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(
            test.ops[0], ast.IsNot) and isinstance(test.comparators[0], ast.Constant) and \
            test.comparators[0].value is None:
        test = test.left
    if isinstance(test, ast.Name):
        return [test.id]
    if isinstance(test, ast.Attribute) and isinstance(test.value, ast.Name):
        return [ast.unparse(test)]
    return []


def once_guarded(fn: FuncInfo, is_class: object) -> bool:
    """`def _load(): global _key, _loaded; if _loaded: return _key; _loaded = True; ...`
    and `if Cls._cached_url and ...: return Cls._cached_url; ...; Cls._cached_url = u`:
    a function without required arguments that returns early once a global or class
    attribute it sets later is set. Its body runs once per process (a secret or config
    value loaded once, a lazy registry built on first use): not request state.
    `is_class(fn, name_node)` tells whether a name is a class (for `Cls.attr` guards)."""
    a = fn.node.args
    required = len(a.posonlyargs) + len(a.args) - len(a.defaults)
    params = [p.arg for p in (*a.posonlyargs, *a.args)][:required]
    if [p for p in params if p not in ("self", "cls")] or any(
            d is None for d in a.kw_defaults):
        return False
    if params and params[0] == "self":
        return False  # a per-instance memo: the instance decides (lint-rules SL105/SL117)
    f = facts_of(fn)
    for st in fn.node.body[:8]:
        if not isinstance(st, ast.If) or st.orelse:
            continue
        if not st.body or not isinstance(st.body[-1], ast.Return) or not all(
                isinstance(s, ast.Expr) for s in st.body[:-1]):
            continue
        for target in _guard_target(st.test):
            if "." in target:
                head = target.split(".", 1)[0]
                if head != "cls" and not is_class(fn, head):
                    continue
            elif target not in f.globals_decl:
                continue
            later = [w for w in f.writes if getattr(w.node, "lineno", 0) > st.lineno and (
                (w.op == "rebind" and w.name == target) or (
                    w.op == "setattr" and w.obj is not None
                    and f"{ast.unparse(w.obj)}.{w.name}" == target))]
            # it loads something: the guarded value is computed, or a flag is set beside
            # other loaded globals. `if _paused: return; _paused = True` loads nothing:
            # a toggle a request flips in this process only (still reported)
            loads = any(w.value is not None and not isinstance(w.value, ast.Constant)
                        for w in later) or any(
                w.op == "rebind" and w.name in f.globals_decl and w.name != target
                for w in f.writes)
            if later and loads:
                return True
    return False


_CLASS_ANNOTATION = re.compile(r"^(type|Type|typing\.Type)\[|^type$")


def loads_code(fn: FuncInfo) -> bool:
    """`def _register(cls, kind, agent_class: type[Base]): cls._agents[kind] =
    agent_class`, `if not issubclass(plugin, Base): raise`, `module =
    importlib.import_module(path)`: a registry of classes (or a lazy-import table),
    filled from code. What it stores is code, identical on every replica; a request
    that triggers a lazy import loads what start-up would have loaded."""
    a = fn.node.args
    params = (*a.posonlyargs, *a.args, *a.kwonlyargs)
    classes = {p.arg for p in params if p.annotation is not None
               and _CLASS_ANNOTATION.search(ast.unparse(p.annotation))}
    names = {p.arg for p in params}
    f = facts_of(fn)
    for call in f.calls:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "issubclass" and call.args and isinstance(call.args[0], ast.Name) and \
                call.args[0].id in names:
            classes.add(call.args[0].id)
        if name in ("import_module", "__import__"):
            return True
    # the function stores the class it was handed: it is a registration
    return any(w.op == "setitem" and isinstance(w.value, ast.Name) and w.value.id in classes
               for w in f.writes)
