"""Cache objects of libraries that keep their entries inside this process.

`cachelib.SimpleCache()`, `werkzeug.contrib.cache.SimpleCache()`,
`aiocache.SimpleMemoryCache()`, `diskcache.Cache(dir)` (this host's disk) and
Flask-Caching's `Cache` configured as `simple`/`filesystem` look like clients of a
cache server, but each worker holds its own copy: a `.set()` in one process is
never seen by the next, and a refresh reaches one process only. The same classes
configured for Redis or memcached are shared and stay silent.

These objects are often hung on the app in its factory (`app.cache =
SimpleCache()`) and used as `current_app.cache.set(...)`, so besides the global
constructor table this module finds the attribute names that hold one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from stateline.lint.model import Cell

if TYPE_CHECKING:
    from stateline.lint.index import FuncInfo, ModuleInfo
    from stateline.lint.scope import Scope

# Constructor → what it is, in words. The vkind of such an object is "memcache".
PER_PROCESS: dict[str, str] = {
    "cachelib.SimpleCache": "cachelib SimpleCache",
    "cachelib.simple.SimpleCache": "cachelib SimpleCache",
    "cachelib.FileSystemCache": "cachelib FileSystemCache (this host's disk)",
    "cachelib.file.FileSystemCache": "cachelib FileSystemCache (this host's disk)",
    "werkzeug.contrib.cache.SimpleCache": "werkzeug SimpleCache",
    "werkzeug.contrib.cache.FileSystemCache": "werkzeug FileSystemCache (this host's disk)",
    "werkzeug.contrib.cache.NullCache": "",
    "aiocache.SimpleMemoryCache": "aiocache SimpleMemoryCache",
    "aiocache.backends.memory.SimpleMemoryCache": "aiocache SimpleMemoryCache",
    "diskcache.Cache": "diskcache Cache (this host's disk)",
    "diskcache.FanoutCache": "diskcache FanoutCache (this host's disk)",
    "diskcache.Index": "diskcache Index (this host's disk)",
    "django.core.cache.backends.locmem.LocMemCache": "Django LocMemCache",
    "pymemcache.client.base.Client": "",
}
# Calls on such an object that store or change an entry.
WRITES = frozenset({"set", "add", "incr", "decr", "get_or_set", "set_many", "touch", "inc",
                    "dec", "increment", "decrement", "multi_set", "setdefault", "push",
                    "memoize", "expire"})
FLASK_CACHING = frozenset({"flask_caching.Cache", "flask_cache.Cache", "flask.ext.cache.Cache"})
# CACHE_TYPE values of Flask-Caching that keep entries in the process (or on its disk)
_LOCAL_TYPES = frozenset({"simple", "simplecache", "filesystem", "filesystemcache",
                          "flask_caching.backends.simplecache", "flask_caching.backends.simple",
                          "flask_caching.backends.filesystemcache",
                          "flask_caching.backends.simplecache.simplecache",
                          "flask_caching.backends.filesystemcache.filesystemcache"})
_NAMES = ("cachelib", "werkzeug.contrib.cache", "aiocache", "diskcache", "LocMemCache",
          "SimpleCache", "FileSystemCache", "flask_caching", "flask_cache")


def kind_of(dotted: str, call: ast.Call | None = None) -> str:
    """"memcache" when calling `dotted` makes a per-process cache object, else ""."""
    if PER_PROCESS.get(dotted):
        return "memcache"
    if dotted in ("aiocache.Cache", "aiocache.caches.Cache") and call is not None:
        # `Cache()` / `Cache(Cache.MEMORY)` is in memory; `Cache(Cache.REDIS)` is shared
        first = ast.unparse(call.args[0]) if call.args else ""
        cls = next((ast.unparse(k.value) for k in call.keywords if k.arg == "cache_class"), "")
        text = (first + cls).upper()
        return "" if "REDIS" in text or "MEMCACHED" in text else "memcache"
    return ""


def mentions_cache_library(mod: ModuleInfo) -> bool:
    """Cheap text test before any tree walk (most modules use none of these)."""
    text = mod.src.text
    return any(n in text for n in _NAMES)


def flask_cache_is_local(modules: list[ModuleInfo]) -> bool:
    """Whether Flask-Caching is configured with an in-process backend anywhere:
    `CACHE_TYPE = "SimpleCache"`, `{"CACHE_TYPE": "simple"}`, `app.config["CACHE_TYPE"] =
    "filesystem"`, `Cache(config={...})`. Without one, Flask-Caching's default is the null
    cache (nothing kept), and a Redis/memcached type is shared."""
    for mod in modules:
        if "CACHE_TYPE" not in mod.src.text or mod.src.tree is None:
            continue
        for key, value in _cache_type_values(mod.src.tree):
            if key == "CACHE_TYPE" and value.lower() in _LOCAL_TYPES:
                return True
    return False


def _cache_type_values(tree: ast.Module) -> Iterator[tuple[str, str]]:
    for n in ast.walk(tree):
        if isinstance(n, ast.Dict):
            for k, v in zip(n.keys, n.values, strict=False):
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant) and \
                        isinstance(k.value, str) and isinstance(v.value, str):
                    yield k.value, v.value
        elif isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(
                n.value.value, str):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    yield t.id, n.value.value
                elif isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant) and \
                        isinstance(t.slice.value, str):
                    yield t.slice.value, n.value.value
        elif isinstance(n, ast.keyword) and n.arg and isinstance(n.value, ast.Constant) and \
                isinstance(n.value.value, str):
            yield n.arg, n.value.value


class LibCaches:
    """The per-process cache objects of one analysed project: globals made by a known
    constructor, and attribute names that are given one anywhere."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._cache_attrs: dict[str, str] | None = None
        self._flask_local: bool | None = None

    def flask_cache_local(self) -> bool:
        if self._flask_local is None:
            self._flask_local = flask_cache_is_local(self.scope.p.modules)
        return self._flask_local

    def _lib_cache(self, dotted: str, call: ast.Call) -> str:
        """What calling `dotted` makes, in words, when it is a per-process cache."""
        if dotted in FLASK_CACHING:
            return "Flask-Caching, in-process backend" if self.flask_cache_local() else ""
        return PER_PROCESS.get(dotted, "") if kind_of(dotted, call) else ""

    def cache_attrs(self) -> dict[str, str]:
        """Attribute names that are given a per-process cache object anywhere in the
        project (`app.cache = SimpleCache()` in a factory) → what it is, in words."""
        if self._cache_attrs is None:
            sc = self.scope
            out: dict[str, str] = {}
            for mod in sc.p.modules:
                if not mentions_cache_library(mod) or mod.src.tree is None:
                    continue
                owners: list[FuncInfo | None] = [None, *mod.all_funcs]
                for owner in owners:
                    node = mod.src.tree if owner is None else owner.node
                    for n in ast.walk(node):
                        if not (isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)):
                            continue
                        attrs = [t.attr for t in n.targets if isinstance(t, ast.Attribute)]
                        if not attrs:
                            continue
                        f = n.value.func
                        s = sc.p.module_expr(mod, f) if owner is None else sc.sym(
                            owner, f, n.lineno)
                        words = self._lib_cache(s.name, n.value) if s is not None and \
                            s.kind == "ext" else ""
                        if words:
                            out.update(dict.fromkeys(attrs, words))
            self._cache_attrs = out
        return self._cache_attrs

    def cell(self, fn: FuncInfo, recv: ast.expr, line: int) -> Cell | None:
        """The per-process library cache `recv` denotes: a global made by a known
        constructor, or an attribute that holds one (`current_app.cache`)."""
        sc = self.scope
        r = sc.ref(fn, recv, line)
        if r is not None and isinstance(r[0], Cell) and not r[1]:
            vk = r[0].vkind
            if vk == "memcache" or (vk == "flaskcache" and self.flask_cache_local()):
                return r[0]
        if isinstance(recv, ast.Attribute):
            words = self.cache_attrs().get(recv.attr)
            if words:
                owner = ast.unparse(recv.value)
                return Cell("global", "", f"{owner}.{recv.attr} ({words})", "memcache")
        return None
