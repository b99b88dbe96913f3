"""SL107: memoising decorators on functions that read the outside world.

`@lru_cache def get_settings()` is fine: its inputs never change. A cached
function that queries a database, calls HTTP, reads files or the clock keeps a
per-process copy of data that changes elsewhere, so each replica answers from
its own stale copy.
"""

from __future__ import annotations

import ast

from stateline.lint.calls import callees
from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo
from stateline.lint.scope import Scope

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
           lines: tuple[int, int] | None = None) -> bool:
    """Whether `fn` (or what it calls, a few levels deep) reads DB/HTTP/files/the clock.
    `lines` restricts the check to calls within a line range of `fn`."""
    seen = seen if seen is not None else set()
    if id(fn) in seen or depth > 3:
        return False
    seen.add(id(fn))
    for call in facts_of(fn).calls:
        if lines is not None and not lines[0] <= call.lineno <= lines[1]:
            continue
        if call_is_io(scope, fn, call):
            return True
        for callee, _, _ in callees(scope, fn, call):
            if impure(scope, callee, depth + 1, seen):
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
        r = scope.ref(fn, f.value, line)
        if r is not None and getattr(r[0], "vkind", "") == "external":
            return True
    return False
