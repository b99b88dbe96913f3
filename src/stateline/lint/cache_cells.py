"""Which state cells are per-process caches, judged from all of their writes.

memos.py tags each write with what it shows about itself (a read-through fill, a
clock stamp, an age test, an eviction, its key). A cell is a cache when it is
named as one or filled read-through, and has an expiry or a bound; what is
written beside it under the same key, or as its size tally, is its bookkeeping.
The checker reports every write of such a cell as SL119 (info), except a write
handler that drops entries of a cache that never expires: the other replicas
keep serving their stale copies, which stays an error.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo, ModuleInfo
from stateline.lint.memos import CACHE_NAME, ttl_compare
from stateline.lint.model import Cell, Write

# module-level and class-level tables (instances are judged by the object they live on)
_KINDS = frozenset({"global", "classattr"})
_WRITE_METHODS = ("POST ", "PUT ", "PATCH ", "DELETE ")
_REMOVALS = ("pop", "clear", "remove", "discard", "popitem")


class CacheCells:
    def __init__(self, modules: list[ModuleInfo]) -> None:
        self.modules = modules
        self.cells: set[Cell] = set()
        self.timed: set[Cell] = set()  # caches whose entries expire

    def find(self, writes_by_fn: Iterable[list[Write]]) -> None:
        """Judge every cell written in `writes_by_fn` (one list per function)."""
        tags: dict[Cell, set[str]] = {}
        groups: list[list[Write]] = []
        for writes in writes_by_fn:
            mine = [w for w in writes if isinstance(w.target, Cell) and w.target.kind in _KINDS]
            for w in mine:
                tags.setdefault(w.target, set()).update(w.detail)  # type: ignore[arg-type]
            if mine:
                groups.append(mine)
        for cell, seen in tags.items():
            timed = "deadline" in seen or (
                "stamped" in seen and ("ttl" in seen or self._aged(cell)))
            fresh = timed or "bounded" in seen or cell.vkind == "lrucache"
            if fresh and ("fill" in seen or CACHE_NAME.search(_short(cell))):
                self.cells.add(cell)
                if timed:
                    self.timed.add(cell)
        for writes in groups:
            keys = {t for w in writes if w.target in self.cells for t in w.detail
                    if t.startswith("key:")}
            if not keys and not any(w.target in self.cells for w in writes):
                continue
            for w in writes:
                cell = w.target
                assert isinstance(cell, Cell)
                if cell not in self.cells and _bookkeeping(cell, w, keys):
                    self.cells.add(cell)

    def _aged(self, cell: Cell) -> bool:
        """Some function of the cell's module compares an entry's age with a short span."""
        name = cell.name.split(".", 1)[0]
        for mod in self.modules:
            if mod.name != cell.module:
                continue
            for fn in mod.all_funcs:
                body = "\n".join(mod.src.lines[fn.node.lineno - 1:fn.node.end_lineno])
                if name in body and ttl_compare(fn):
                    return True
        return False

    def stays_error(self, w: Write, chain: list[str]) -> bool:
        """A POST/PUT/PATCH/DELETE handler dropping entries (not evicting the oldest) of a
        cache whose entries never expire: other replicas keep their stale copies."""
        assert isinstance(w.target, Cell)
        if w.target in self.timed or "bounded" in w.detail:
            return False
        how = w.detail[0] if w.detail else ""
        removal = (w.op == "setitem" and how == "del") or (w.op == "method" and how in _REMOVALS)
        return removal and bool(chain) and chain[0].startswith(_WRITE_METHODS)

    def guards(self, fn: FuncInfo, lock: Write, writes: list[Write]) -> bool:
        """`with _cache_lock:` around a cache fill or eviction: every cell the body
        writes is a cache; or the body writes only what is no state (a table of locks,
        a validated memo); or it writes nothing and the lock is named for a cache."""
        end = int(lock.detail[0]) if lock.detail and lock.detail[0].isdigit() else lock.line
        inside = [x.target for x in writes if lock.line < x.line <= end
                  and isinstance(x.target, Cell) and x.op != "lock"]
        if inside:
            return all(c in self.cells for c in inside)
        if isinstance(lock.target, Cell) and CACHE_NAME.search(lock.target.name):
            return True
        f = facts_of(fn)
        return any(lock.line < getattr(x.node, "lineno", 0) <= end and (
            x.op != "rebind" or x.name in f.globals_decl) for x in f.writes) or any(
            lock.line < c.lineno <= end and isinstance(c.func, ast.Attribute)
            and c.func.attr in ("pop", "setdefault", "clear", "remove", "discard")
            for c in f.calls)


def _short(cell: Cell) -> str:
    return cell.name.rsplit(".", 1)[-1]


def _bookkeeping(cell: Cell, w: Write, keys: set[str]) -> bool:
    """Written beside a cache: named as a cache, under the same key as a cache entry,
    or a tally (`_total_bytes += size`, `_total = max(0, _total - size)`)."""
    if CACHE_NAME.search(_short(cell)) or keys & set(w.detail):
        return True
    return w.op == "rebind" and (w.detail[:1] == ("aug",) or _short(cell) in w.text.split(
        "=", 1)[-1])
