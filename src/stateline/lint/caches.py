"""SL107: memoising decorators on functions that read the outside world.

`@lru_cache def get_settings()` is fine: its inputs never change. A cached
function that queries a database, calls HTTP, reads files or the clock keeps a
per-process copy of data that changes elsewhere, so each replica answers from
its own stale copy.
"""

from __future__ import annotations

import ast
import re

from stateline.lint.calls import TTL_DECORATORS, callees
from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo
from stateline.lint.scope import Scope
from stateline.lint.shapes import storeish
from stateline.lint.values import CONTAINERS, bounded_ttl

_IMPURE_PREFIXES = ("requests.", "httpx.", "urllib.", "urllib3.", "aiohttp.", "socket.",
                    "sqlite3.", "psycopg", "pymysql", "asyncpg", "redis.", "boto3.",
                    "subprocess.", "time.time", "time.monotonic", "time.perf_counter",
                    "datetime.datetime.now", "datetime.datetime.utcnow",
                    "datetime.datetime.today", "datetime.date.today", "builtins.open",
                    "io.open", "os.listdir", "os.stat", "os.scandir", "os.path.getmtime",
                    "os.path.exists", "glob.", "shutil.", "pathlib.Path.read", "sqlalchemy.",
                    "pymongo.", "django.db.")
_IMPURE_METHODS = frozenset({"execute", "executemany", "fetchone", "fetchall", "fetchmany",
                             "query", "scalars", "scalar", "read_text", "read_bytes",
                             "urlopen", "fetch", "fetchrow", "fetchval", "find_one",
                             "aggregate", "raw", "now", "utcnow", "today"})


def impure(scope: Scope, fn: FuncInfo, depth: int = 0, seen: set[int] | None = None,
           lines: tuple[int, int] | None = None, files: bool = True) -> bool:
    """Whether `fn` (or what it calls, a few levels deep) reads DB/HTTP/files/the clock.
    `lines` restricts the check to calls within a line range of `fn`; `files=False`
    does not count reading files: a memoised zero-argument loader of data files
    shipped with the code (`CATALOG = Path(__file__).parent / "catalog"`, `@lru_cache
    def load_catalog(): ... p.read_text()`) reads the same bytes on every replica."""
    seen = seen if seen is not None else set()
    if id(fn) in seen or depth > 3:
        return False
    seen.add(id(fn))
    for call in facts_of(fn).calls:
        if lines is not None and not lines[0] <= call.lineno <= lines[1]:
            continue
        if call_is_io(scope, fn, call) and (files or not _file_read(scope, fn, call)):
            return True
        for callee, _, _ in callees(scope, fn, call):
            if impure(scope, callee, depth + 1, seen, files=files):
                return True
    return False


def call_is_io(scope: Scope, fn: FuncInfo, call: ast.Call) -> bool:
    """A call that talks to the world outside the process (store, HTTP, files, clock)."""
    f = call.func
    line = call.lineno
    if isinstance(f, ast.Name | ast.Attribute):
        dotted = scope.dotted(fn, f, line)
        if dotted.startswith(_IMPURE_PREFIXES):
            return True
    if isinstance(f, ast.Attribute):
        if f.attr in _IMPURE_METHODS:
            return True
        if isinstance(f.value, ast.Attribute) and f.value.attr == "objects":
            return True
        # A method of an external object is I/O when the object talks to a store
        # (`self.redis.get`, `client.fetch`) or the verb is a request; compiling a
        # template (`env.from_string`) or parsing with a library object is not.
        r = scope.ref(fn, f.value, line)
        if r is not None and getattr(r[0], "vkind", "") == "external" and (
                storeish(f.value) or f.attr in _IO_VERBS):
            return True
    return False


_FILE_PREFIXES = ("builtins.open", "io.open", "os.listdir", "os.stat", "os.scandir",
                  "os.path.", "glob.", "pathlib.", "yaml.", "json.load", "tomllib.")
_FILE_METHODS = frozenset({"read_text", "read_bytes", "iterdir", "glob", "rglob", "exists",
                           "is_file", "is_dir", "open", "read"})


def _file_read(scope: Scope, fn: FuncInfo, call: ast.Call) -> bool:
    """A call that reads the local file system (open, listdir, Path.read_text, ...)."""
    f = call.func
    if isinstance(f, ast.Name | ast.Attribute) and scope.dotted(fn, f, call.lineno).startswith(
            _FILE_PREFIXES):
        return True
    return isinstance(f, ast.Attribute) and f.attr in _FILE_METHODS and not storeish(f.value)


_IO_VERBS = frozenset({"get", "post", "put", "patch", "delete", "request", "send", "recv",
                       "head", "find", "search", "download", "download_file", "get_object",
                       "list_objects", "list_objects_v2", "scan", "hget", "hgetall", "mget",
                       "lrange", "smembers", "read", "load", "invoke", "call", "publish",
                       "get_item", "query_one", "count_documents", "distinct", "run"})
_SETTINGS = re.compile(r"settings|config|conf$|^conf|options|environment|^env", re.IGNORECASE)
_FACTORY_NAMES = re.compile(r"connect|from_url|engine|client|session|pool|resource|redis|"
                            r"producer|consumer|bucket|driver|channel|boto3", re.IGNORECASE)


def creates_once(scope: Scope, fn: FuncInfo) -> bool:
    """A memoised factory or settings loader: `@cache def get_client(): return
    httpx.Client(...)`, `@lru_cache def get_redis(): return Redis.from_url(URL)`,
    `@cache def settings(): return Settings()`. Creating a client, an engine or the
    settings once per process is not request state, even when it touches I/O."""
    if _SETTINGS.search(fn.name):
        return True
    returns = facts_of(fn).returns
    if not returns:
        return False
    for r in returns:
        if isinstance(r, ast.Await):
            r = r.value
        if not isinstance(r, ast.Call):
            return False
        f = r.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if not (name[:1].isupper() or _FACTORY_NAMES.search(name)):
            return False
    return True


def bounded_expiring(scope: Scope, fn: FuncInfo, deco: ast.expr) -> bool:
    """`@cached(cache=TTLCache(maxsize=128, ttl=600))`, `@ttl_cache(maxsize=.., ttl=..)`,
    `@alru_cache(maxsize=.., ttl=..)`: the decorator's cache has a bound and a short expiry."""
    if not isinstance(deco, ast.Call):
        return False
    target = scope.p.module_expr(fn.module, deco.func)
    dotted = target.name if target is not None and target.kind == "ext" else ""
    if dotted in TTL_DECORATORS or any(k.arg == "ttl" for k in deco.keywords):
        return bounded_ttl(deco)
    for arg in (*deco.args, *(k.value for k in deco.keywords if k.arg == "cache")):
        if isinstance(arg, ast.Call):
            inner = scope.p.module_expr(fn.module, arg.func)
            if inner is not None and inner.kind == "ext" and inner.name in (
                    "cachetools.TTLCache", "cachetools.TLRUCache"):
                return bounded_ttl(arg)
    return False


def pure_memo(scope: Scope, fn: FuncInfo, table: ast.expr, value: ast.expr | None) -> bool:
    """`cached = CACHE.get(key); if cached is not None: return cached; schema =
    build(...); CACHE[key] = schema; return schema` in a function that reads nothing
    outside the process: a memo of a pure computation. Every replica computes the
    same entry, so, like `@lru_cache` on a pure function, it is not state."""
    if not isinstance(value, ast.Name):
        return False
    # the entry is made by a call (`create_model(...)`, `re.compile(...)`), not a fresh
    # dict or list that callers fill in: `user = {"name": t}; USERS[t] = user` is a store
    made = [v for _, v in facts_of(fn).assigns.get(value.id, ()) if v is not None]
    if not made or not all(isinstance(v, ast.Call) and scope.p.classify(
            fn.module, v) not in CONTAINERS for v in made):
        return False
    f = facts_of(fn)
    if not any(isinstance(r, ast.Name) and r.id == value.id for r in f.returns):
        return False
    text = ast.unparse(table)
    looked_up = any(
        isinstance(c.func, ast.Attribute) and c.func.attr == "get"
        and ast.unparse(c.func.value) == text for c in f.calls) or any(
        ast.unparse(m) == text for m in f.membership)
    return looked_up and not impure(scope, fn)
