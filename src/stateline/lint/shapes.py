"""Shapes that look like writes to state but are not request state.

Each predicate recognises one idiom real services use on purpose: an asyncio
task kept alive in a set, a method name shared with ORMs and query builders, a
metric or client registered once per key, a lock that only serialises calls or
guards a cache fill, a table of the process's own DB sessions, a hand-made
cache expiry. summaries.py asks these before it records a write, so the rules
stay about data that one request leaves for another.
"""

from __future__ import annotations

import ast

from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo
from stateline.lint.model import Write
from stateline.lint.scope import Scope
from stateline.lint.values import CONTAINERS, GENERAL_MUTATORS

# Method names that are also common non-container APIs (session.add, Model.update,
# table.insert, query.filter...). A call is a container mutation only when the
# receiver is known to hold a builtin container.
AMBIGUOUS_METHODS = frozenset({"add", "update", "insert", "remove", "pop", "clear", "sort",
                               "reverse", "discard"})
_TASK_MAKERS = frozenset({"create_task", "ensure_future", "run_coroutine_threadsafe",
                          "spawn", "start_soon"})
_PLUMBING_KINDS = frozenset({"metric", "logger", "lock", "semaphore", "regex", "contextvar"})
_CTOR_NAMES = ("connect", "from_url", "create_engine", "create_async_engine", "client",
               "Client", "session", "Session", "resource", "Redis", "Pool", "pool")


_LIVE_TYPES = ("Session", "AsyncSession", "Thread", "Task", "Popen", "Connection", "Process")
_CLOCK_WORDS = ("time", "now", "monotonic", "timedelta", "datetime", "age", "expire", "ttl")


def holds_live_object(fn: FuncInfo, value: ast.expr | None) -> bool:
    """A value that is (or wraps in a dict/tuple) a parameter annotated as a live
    in-process object: a DB session, a thread, a task, a child process. Tables of
    those are this process's own bookkeeping, not data another instance should see."""
    if value is None:
        return False
    annotated = {a.arg for a in (*fn.node.args.posonlyargs, *fn.node.args.args,
                                 *fn.node.args.kwonlyargs)
                 if a.annotation is not None and ast.unparse(a.annotation).rsplit(".", 1)[-1]
                 .strip("'\"") in _LIVE_TYPES}
    if not annotated:
        return False
    return any(isinstance(n, ast.Name) and n.id in annotated for n in ast.walk(value))


def under_clock_test(fn: FuncInfo, call: ast.Call) -> bool:
    """Whether `call` runs under an `if` that compares times (a hand-made expiry)."""
    for n in ast.walk(fn.node):
        if isinstance(n, ast.If) and n.body and n.body[0].lineno <= call.lineno <= (
                n.body[-1].end_lineno or n.lineno):
            test = ast.unparse(n.test).lower()
            if any(w in test for w in _CLOCK_WORDS):
                return True
    return False


def is_task(fn: FuncInfo, node: ast.expr | None) -> bool:
    """An asyncio task: `t = asyncio.create_task(...)`, or a name that says so."""
    if isinstance(node, ast.Call):
        f = node.func
        return (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")) in _TASK_MAKERS
    if not isinstance(node, ast.Name):
        return False
    if node.id in ("task", "t", "fut", "future") or node.id.endswith("_task"):
        return True
    return any(is_task(fn, v) for _, v in facts_of(fn).assigns.get(node.id, ()) if v is not None)


def container_receiver(sc: Scope, fn: FuncInfo, node: ast.expr) -> bool:
    """Whether `node` is built as a builtin container (literal or constructor) where its
    element or parameter value is defined: `ROOMS.setdefault(r, set())`, `x = []`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in ("setdefault", "get") and len(node.args) == 2:
        kind = sc.p.classify(fn.module, node.args[1])
        return kind in CONTAINERS
    if isinstance(node, ast.Subscript):
        return True  # `ROOMS[room].add(ws)`: an element of a known container
    if isinstance(node, ast.Attribute):
        return attr_kind(sc, fn, node) in CONTAINERS  # `self.rooms = set()` in __init__
    if isinstance(node, ast.Name):
        _, value = sc.local_value(fn, node.id, 10**9)
        return value is not None and sc.p.classify(fn.module, value) in CONTAINERS
    return False


def creates_plumbing(sc: Scope, fn: FuncInfo, w: Write) -> bool:
    """`if name not in _METRICS: _METRICS[name] = Counter(...)`: registering a metric,
    a logger or a client once per key is idempotent set-up, not request data."""
    for raw in facts_of(fn).writes:
        if raw.op != "setitem" or getattr(raw.node, "lineno", 0) != w.line:
            continue
        value = raw.value
        if not isinstance(value, ast.Call):
            return False
        callee = sc.sym(fn, value.func, w.line)
        kind = sc.p.call_kind(callee) if callee is not None else "unknown"
        if kind in _PLUMBING_KINDS:
            return True
        name = value.func.attr if isinstance(value.func, ast.Attribute) else getattr(
            value.func, "id", "")
        return kind == "external" and (name[:1].isupper() or name.endswith(_CTOR_NAMES))
    return False


def guards_shared_work(stmt: ast.stmt) -> bool:
    """A `with lock:` body that checks something or writes something: check-then-act.
    A body that only awaits calls is a concurrency cap, not coordination."""
    for n in ast.walk(stmt):
        if isinstance(n, ast.If | ast.IfExp | ast.While | ast.Assert):
            return True
        if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = n.targets if isinstance(n, ast.Assign | ast.Delete) else [n.target]
            if any(not isinstance(t, ast.Name) for t in targets):
                return True
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(
                n.value.func, ast.Attribute) and n.value.func.attr in GENERAL_MUTATORS:
            return True
    return False


def memo_guard(stmt: ast.stmt) -> bool:
    """A stampede guard: under the lock, `if key in CACHE` / `CACHE.get(key) is None`
    and then `CACHE[key] = ...` on the same object (the cache write is its own finding)."""
    tested: set[str] = set()
    written: set[str] = set()
    for n in ast.walk(stmt):
        if isinstance(n, ast.Compare):
            for op, right in zip(n.ops, n.comparators, strict=False):
                if isinstance(op, ast.In | ast.NotIn):
                    tested.add(ast.unparse(right))
            if isinstance(n.left, ast.Call) and isinstance(n.left.func, ast.Attribute) and \
                    n.left.func.attr == "get":
                tested.add(ast.unparse(n.left.func.value))
        elif isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Subscript):
                    written.add(ast.unparse(t.value))
    return bool(tested & written)


def attr_kind(sc: Scope, fn: FuncInfo, node: ast.expr) -> str:
    """vkind of `self.X` from its `__init__` binding (or class attribute)."""
    if fn.cls is None or not isinstance(node, ast.Attribute):
        return ""
    value = sc.p.class_attr(fn.cls, node.attr)
    init = {}
    for c in reversed(sc.p.mro(fn.cls)):
        init.update(c.init_attrs)
    expr = init.get(node.attr) if node.attr in init else (value[1] if value else None)
    return sc.p.classify(fn.module, expr) if expr is not None else ""


_CLIENT_LIBS = ("redis", "aioredis", "rediscluster", "sqlalchemy", "pymongo", "motor",
                "boto3", "botocore", "aiobotocore",
                "elasticsearch", "kafka", "aiokafka", "pika", "aio_pika", "psycopg",
                "psycopg2", "asyncpg", "aiomysql", "pymysql", "MySQLdb", "sqlite3",
                "grpc", "paramiko", "ldap3", "clickhouse_driver", "pymemcache",
                "cassandra", "neo4j", "minio", "google.cloud", "azure", "openai",
                "databases", "tortoise", "peewee", "kombu", "celery", "nats", "zmq")
_FACTORY_WORDS = ("connect", "from_url", "engine", "client", "session", "pool", "redis",
                  "driver", "channel", "producer", "consumer", "cluster", "sessionmaker",
                  "connection", "bucket")


# Analysed functions named like these build a client (never "session": a project's
# `get_session(sid)` is as likely a session record as a DB session).
_FACTORY_FUNCS = ("client", "engine", "connect", "pool", "provider", "driver", "producer",
                  "consumer", "channel")


def makes_client(sc: Scope, fn: FuncInfo, value: ast.expr | None, line: int,
                 depth: int = 0) -> bool:
    """A value that is a client, engine, connection or pool of an external service:
    `Redis(...)`, `create_async_engine(url)`, `dict(engine=eg, session=ss)`, a local
    bound to one (`client = make_client(); POOL[k] = client`), or what an analysed
    factory returns. Keeping one per key in a per-process table is connection
    pooling, not request state: every replica builds its own and none is data."""
    if value is None or depth > 3:
        return False
    if isinstance(value, ast.Await):
        value = value.value
    if isinstance(value, ast.Name):
        is_local, bound = sc.local_value(fn, value.id, line)
        return is_local and bound is not None and bound is not value and makes_client(
            sc, fn, bound, line, depth + 1)
    if isinstance(value, ast.Dict):
        return bool(value.values) and all(makes_client(sc, fn, v, line, depth + 1)
                                          for v in value.values)
    if isinstance(value, ast.Tuple):
        return bool(value.elts) and all(makes_client(sc, fn, v, line, depth + 1)
                                        for v in value.elts)
    if not isinstance(value, ast.Call):
        return False
    f = value.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    callee = sc.sym(fn, f, line)
    if callee is not None and callee.kind == "ext":
        if callee.name == "builtins.dict":
            vals = [k.value for k in value.keywords]
            return bool(vals) and all(makes_client(sc, fn, v, line, depth + 1) for v in vals)
        if sc.p.call_kind(callee) in _PLUMBING_KINDS:
            return True
        root = callee.name.split(".", 1)[0]
        low = name.lower()
        return any(w in low for w in _FACTORY_WORDS) or (
            root in _CLIENT_LIBS and name[:1].isupper())
    if callee is not None and callee.kind == "class" and callee.cls is not None:
        # `JsonProvider(path)`, `InUseProvider(provider=self._load(k), locks=1)`: an
        # analysed class named as a client, or a record that wraps one
        if any(w in callee.cls.name.lower() for w in _FACTORY_FUNCS):
            return True
        return any(makes_client(sc, fn, a, line, depth + 1)
                   for a in (*value.args, *(k.value for k in value.keywords)))
    target = None
    if callee is not None and callee.kind == "func":
        target = callee.func
    elif isinstance(f, ast.Attribute) and callee is not None and callee.kind == "class" \
            and callee.cls is not None:
        target = sc.p.find_method(callee.cls, f.attr)
    if target is None and isinstance(f, ast.Attribute) and callee is None:
        owner = sc.sym(fn, f.value, line)
        if owner is not None and owner.kind == "class" and owner.cls is not None:
            target = sc.p.find_method(owner.cls, f.attr)
    if target is None:
        return False
    if any(w in target.name.lower() for w in _FACTORY_FUNCS):
        return True  # `_init_provider(kind)`, `make_client(url)`: named as a factory
    returns = facts_of(target).returns
    return bool(returns) and all(makes_client(sc, target, r, getattr(r, "lineno", 10**9),
                                              depth + 1) for r in returns)


def pool_key(fn: FuncInfo, obj: ast.expr) -> str:
    """A name for the table `obj` denotes, the same in every method of its class:
    `self._clients` and `Manager._clients` → `mod:Manager._clients`."""
    while isinstance(obj, ast.Subscript):  # `self._store[k].locks`: part of the pool
        obj = obj.value
    text = ast.unparse(obj)
    head, _, rest = text.partition(".")
    if fn.cls is not None and head in ("self", "cls") and rest:
        text = f"{fn.cls.qual}.{rest}"
    return f"{fn.module.name}:{text}"


_STOREISH = ("redis", "db", "database", "engine", "pool", "session", "client", "conn",
             "cursor", "http", "s3", "bucket", "producer", "queue", "mq", "broker", "r")


def storeish(node: ast.expr) -> bool:
    """`self.redis`, `db.session`, `client`: an object that talks to an external store."""
    name = node.attr if isinstance(node, ast.Attribute) else (
        node.id if isinstance(node, ast.Name) else "")
    name = name.lower().strip("_")
    return bool(name) and (name in _STOREISH or name.endswith(_STOREISH[:-1]))


_CLOCK_CALLS = frozenset({"time", "monotonic", "now", "utcnow", "perf_counter"})


def expiring_entry(fn: FuncInfo, value: ast.expr | None) -> bool:
    """A cache entry stored with a short deadline: `Cached(v, time() + expiry)`,
    `(time.monotonic() + 60, v)`, where the added span is a literal of at most a day or
    a parameter defaulting to one. Each process then refreshes its own copy soon."""
    if value is None:
        return False
    for n in ast.walk(value):
        if not (isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add)):
            continue
        for clock, span in ((n.left, n.right), (n.right, n.left)):
            if _clock_call(clock) and _short_span(fn, span):
                return True
    return False


def _clock_call(node: ast.expr) -> bool:
    if isinstance(node, ast.Call) and node.func is not None:
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name in ("int", "float") and node.args:
            return _clock_call(node.args[0])
        return name in _CLOCK_CALLS
    return False


def _short_span(fn: FuncInfo, node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and 0 < node.value <= 86_400
    if isinstance(node, ast.Name):
        a = fn.node.args
        pos = [*a.posonlyargs, *a.args]
        defaults = dict(zip([p.arg for p in pos[len(pos) - len(a.defaults):]], a.defaults,
                            strict=False))
        defaults.update({p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=False)
                         if d is not None})
        d = defaults.get(node.id)
        return d is not None and _short_span(fn, d)
    return False
