"""`stateline lint`'s engine: parse, index, find entries, summarise, report.

The pipeline is one parse per file, one indexing walk per module, lazy facts
for the functions request handling reaches, summaries solved to a fixed point,
then one finding per write site with the most specific rule.
"""

from __future__ import annotations

import ast
import gc
import os
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stateline.lint import (
    caches,
    classify,
    config_rules,
    disk,
    memos,
    memstores,
    queue_handoff,
    random_keys,
)
from stateline.lint.cache_cells import CacheCells
from stateline.lint.calls import bind_args, cache_decorator, wrappers
from stateline.lint.entries import Entry, EntryFinder, is_test_module
from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo, ModuleInfo, build_module
from stateline.lint.model import Cell, Finding, Note, Param, Write
from stateline.lint.resolve import Project, Sym
from stateline.lint.roots import import_roots
from stateline.lint.rules import PRECEDENCE, RULES
from stateline.lint.scope import Scope
from stateline.lint.source import SourceFile, discover, load
from stateline.lint.summaries import DJANGO_CACHE, Summaries, applies

_CACHE_PAGE = "django.views.decorators.cache.cache_page"
_RANK = {r: i for i, r in enumerate(PRECEDENCE)}
# Rules for data kept in the process; a cell commented as deliberately per-process
# is reported as SL119 instead.
_STORE_RULES = frozenset({"SL102", "SL103", "SL104", "SL105", "SL106", "SL117"})
# Error rules that a write to a per-process cache (memos.py) is reported under instead
_CACHE_RULES = frozenset({"SL101", "SL102", "SL103", "SL104", "SL105", "SL113"})
_DELIBERATE = re.compile(r"per[- ]process|process[- ]local|per[- ]worker|each (worker|process|"
                         r"instance)|per[- ]instance|local (in-memory )?cache|deliberately")


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    lines: int = 0
    suppressed: list[Finding] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


@dataclass
class _Reach:
    chain: dict[int, list[str]] = field(default_factory=dict)
    funcs: dict[int, FuncInfo] = field(default_factory=dict)
    entry_of: dict[int, Entry] = field(default_factory=dict)
    # `@lru_cache def get_dirs()` with no parameters, reached from a request: its
    # cache rules apply, but what its body and callees write happens once per process
    once: set[int] = field(default_factory=set)


class Checker:
    def __init__(self, sources: list[SourceFile], roots: list[Path] | None = None) -> None:
        self.sources = sources
        self.modules: list[ModuleInfo] = [build_module(s) for s in sources if s.tree is not None]
        self.project = Project(self.modules, roots)
        self.scope = Scope(self.project)
        self.summaries = Summaries(self.scope)
        self.finder = EntryFinder(self.project, self.scope)
        self.candidates: list[Finding] = []
        self.registries: set[Cell] = set()
        self.caches = CacheCells(self.modules)  # hand-made per-process caches

    def release(self) -> None:
        """Break the module ↔ function ↔ class reference cycles, so that the index and
        every tree are freed by reference counting the moment the checker goes. Left to
        the cyclic collector, the first collection after the analysis would walk
        millions of AST nodes (0.5 s on Django's 159k lines)."""
        for mod in self.modules:
            for fn in mod.all_funcs:
                fn.nested.clear()
                fn.parent = fn.cls = None
            for cls in mod.all_classes:
                cls.methods.clear()
            mod.functions.clear()
            mod.classes.clear()
            mod.all_funcs.clear()
            mod.all_classes.clear()
        self.modules.clear()

    # reachability ----------------------------------------------------------
    def _reach(self, entries: Iterable[Entry]) -> _Reach:
        reach = _Reach()
        extra: dict[int, list[FuncInfo]] = {}
        for owner, target, _ in self.finder.extra_edges:
            extra.setdefault(id(owner), []).append(target)
        queue: deque[FuncInfo] = deque()
        for e in entries:
            if id(e.func) not in reach.chain:
                # "POST /orders → new_order", but "view add_to_cart" names the function
                head = [e.label] if e.label.endswith(e.func.label) else [e.label, e.func.label]
                reach.chain[id(e.func)] = head
                reach.funcs[id(e.func)] = e.func
                reach.entry_of[id(e.func)] = e
                queue.append(e.func)
                for wrapper in wrappers(self.scope, e.func):
                    if id(wrapper) not in reach.chain:
                        reach.chain[id(wrapper)] = [e.label, wrapper.label]
                        reach.funcs[id(wrapper)] = wrapper
                        queue.append(wrapper)
        while queue:
            fn = queue.popleft()
            chain = reach.chain[id(fn)]
            if id(fn) in reach.once:
                continue  # a memoised singleton factory: its body runs once per process
            nexts = [edge.callee for edge in self.summaries.edges_of(fn)]
            nexts.extend(extra.get(id(fn), ()))
            for callee in nexts:
                if id(callee) not in reach.chain:
                    reach.chain[id(callee)] = [*chain, callee.label]
                    reach.funcs[id(callee)] = callee
                    if self._singleton_factory(callee):
                        reach.once.add(id(callee))
                    queue.append(callee)
        return reach

    def _singleton_factory(self, fn: FuncInfo) -> bool:
        """A function whose body runs once per process: a memoised zero-argument
        factory, or one that returns early once a global it sets is set (memos.py)."""
        params = [p for p in fn.params if p not in ("self", "cls")]
        if not params and cache_decorator(
                self.scope, Sym("func", fn.module, fn.name, func=fn)) is not None:
            return True
        return memos.once_guarded(fn, self._names_class)

    def _names_class(self, fn: FuncInfo, name: str) -> bool:
        node = ast.Name(id=name, ctx=ast.Load())
        return self.scope.class_ref(fn, node, fn.node.lineno) is not None

    # findings --------------------------------------------------------------
    def run(self) -> list[Finding]:
        entries = self.finder.find()
        request = self._reach(e for e in entries if not e.background)
        # Background jobs spawned while serving a request accumulate per request;
        # those started at start-up matter when requests read what they write.
        from_request = self._reach(e for e in entries if e.background and e.spawner is not None
                                   and id(e.spawner) in request.chain)
        from_startup = self._reach(e for e in entries if e.background
                                   and id(e.func) not in from_request.chain)
        funcs = {**request.funcs, **from_request.funcs, **from_startup.funcs}
        self.summaries.solve(list(funcs.values()))
        self.caches.find(self.summaries.of(fn) for fn in funcs.values())
        reads = self._cells_read(request)
        self.registries = {w.target for fn in funcs.values() for w in self.summaries.of(fn)
                           if isinstance(w.target, Cell) and "ws" in w.detail
                           and "bus" not in w.detail}
        self._writes(request, request, background=False, only_cells=None)
        self._writes(from_request, request, background=True, only_cells=None)
        self._writes(from_startup, request, background=True, only_cells=reads)
        self._cache_rules(request)
        self._config_rules()
        per_request = [f for k, f in request.funcs.items() if k not in request.once]
        for op in disk.handoffs(self.scope, per_request, self.modules):
            chain = [*request.chain[id(op.fn)], _text(op.fn, op.node.lineno)]
            self._add("SL111", op.fn.module, op.node.lineno, op.node.col_offset + 1,
                      f"file written under `{op.root}` here is read by another handler from "
                      "this host's disk", op.root, chain)
        for mod, node, what, how in random_keys.random_keys(self.project):
            line = getattr(node, "lineno", 1)
            self._add("SL120", mod, line, getattr(node, "col_offset", 0) + 1,
                      f"`{what}` is made with `{how}()` in each process: every worker and "
                      "replica signs or encrypts with its own key, so what one makes the next "
                      "rejects", what, [f"{mod.name} (configuration)", mod.src.line_text(line)])
        for st in memstores.mem_stores(self.scope, self.modules, per_request):
            line = st.node.lineno
            self._add("SL121", st.mod, line, st.node.col_offset + 1,
                      f"`{st.cls}` keeps its entries in this process's memory, and a request "
                      "path writes to it: each replica has its own store", st.name or st.cls,
                      [f"{st.mod.name} (module level)", st.mod.src.line_text(line)])
        for h in queue_handoff.temp_handoffs(self.scope, per_request):
            chain = [*request.chain[id(h.fn)], _text(h.fn, h.node.lineno)]
            self._add("SL111", h.fn.module, h.node.lineno, h.node.col_offset + 1,
                      f"temp file written here; its path `{h.path}` is handed to a task queue "
                      "whose worker may run on another machine, without this host's disk",
                      f"{h.path} (temp file)", chain)
        return self._select()

    def _writes(self, reach: _Reach, request: _Reach, background: bool,
                only_cells: set[Cell] | None) -> None:
        """Findings for the writes of every function in `reach`."""
        # cells whose entries are stored with a short deadline: a hand-made TTL cache
        expiring = {w.target for fn in reach.funcs.values() for w in self.summaries.of(fn)
                    if "expiring" in w.detail and isinstance(w.target, Cell)}
        for key, fn in reach.funcs.items():
            if key in reach.once:
                continue
            entry = reach.entry_of.get(key)
            for w in self.summaries.of(fn):
                cell = w.target
                if "tick" in w.detail:
                    continue  # a counter that only schedules housekeeping every N calls
                if isinstance(cell, Cell) and ("own" in w.detail or "bus" in w.detail):
                    # a service object's own bookkeeping, or a table a shared bus keeps
                    # in step (service_state.py); an entry's own instance stays reported
                    continue
                if isinstance(cell, Param):
                    if entry is None or entry.self_cell is None or not fn.params or \
                            cell.name != fn.params[0]:
                        continue
                    cell = entry.self_cell
                    if not applies(cell, w.op, w.detail, w.element):
                        continue
                if cell.kind == "closure" and self._per_request_closure(cell, request):
                    continue
                if cell.kind == "default" and self._default_always_passed(cell, request):
                    continue
                if cell in self.registries and _removal(w):
                    continue  # reported once, where the registry adds a connection
                if only_cells is not None and cell not in only_cells:
                    continue
                if cell in self.summaries.validated:
                    continue  # a memo validated against its source's version (memos.py)
                rule = classify.rule_for(w, cell, background)
                if rule is None:
                    continue
                if cell in self.registries and rule not in ("SL118", "SL108", "SL115"):
                    rule = "SL112"  # every write site of a connection registry
                elif rule in _STORE_RULES and (cell in expiring or "expiring" in w.detail
                                               or self._deliberate(cell, w.path)):
                    rule = "SL119"  # expiring entries, or commented as a deliberate cache
                elif rule in _CACHE_RULES and cell in self.caches.cells and not \
                        self.caches.stays_error(w, reach.chain[key]):
                    rule = "SL119"  # a hand-made cache with an expiry or a bound
                elif rule == "SL118" and w.op == "lock" and self.caches.guards(
                        fn, w, self.summaries.of(fn)):
                    continue  # a stampede guard / eviction lock around a cache
                if cell == DJANGO_CACHE and not config_rules.locmem_cache(self.project,
                                                                          fn.module):
                    continue  # Django's default cache is shared (Redis, memcached) here
                chain = [*reach.chain[key], *w.via, w.text]
                kind = classify.what(cell)
                label = f"`{cell.label}` ({kind})" if kind and rule != "SL112" else \
                    f"`{cell.label}`"
                msg = f"{RULES[rule].summary}: {label} {classify.describe(w.op, w.detail)}"
                self._add_raw(Finding(rule, RULES[rule].severity, w.path, w.line, w.col, msg,
                                      cell.label, chain, _fix(rule, cell)))

    def _deliberate(self, cell: Cell, near: str) -> bool:
        """A cell its authors comment as deliberately per-process (on its definition line
        or the line above): `_cache = {}  # per-process cache, fine to lose`."""
        same = [m for m in self.modules if m.name == cell.module]
        mod = next((m for m in same if m.path == near), same[0] if same else None)
        if mod is None:
            return False
        name = cell.name.split(".", 1)[0] if cell.kind == "global" else ""
        line = mod.global_lines.get(name) if name else None
        if line is None and cell.kind == "classattr":
            owner, _, attr = cell.name.rpartition(".")
            cls = next((c for c in mod.all_classes if c.qual == owner), None)
            if cls is not None:
                line = next((st.lineno for st in cls.node.body if isinstance(
                    st, ast.Assign | ast.AnnAssign) and attr in ast.unparse(st).split("=")[0]),
                    None)
        if line is None:
            return False
        text = " ".join(mod.src.lines[max(line - 2, 0):line]).lower()
        return "#" in text and _DELIBERATE.search(text.split("#", 1)[1]) is not None

    def _default_always_passed(self, cell: Cell, request: _Reach) -> bool:
        """A mutable default is only shared when a call leaves it out: if the function is
        no entry itself and every call reached passes that argument, the default object
        is never the one written."""
        qual, _, rest = cell.name.partition("(")
        param = rest.split("=", 1)[0]
        target = next((f for f in request.funcs.values()
                       if f.qual == qual and f.module.name == cell.module), None)
        if target is None or id(target) in request.entry_of:
            return False
        calls = [e for f in request.funcs.values() for e in self.summaries.edges_of(f)
                 if e.callee is target]
        bound = target.cls is not None and bool(target.params) and target.params[0] in (
            "self", "cls")
        return bool(calls) and all(param in bind_args(target, e.call, bound) for e in calls)

    def _per_request_closure(self, cell: Cell, request: _Reach) -> bool:
        owner = cell.name.rsplit(".", 1)[0]
        return any(f.qual == owner and f.module.name == cell.module
                   for f in request.funcs.values())

    def _cells_read(self, request: _Reach) -> set[Cell]:
        out: set[Cell] = set()
        for fn in request.funcs.values():
            f = facts_of(fn)
            for name in f.names_read:
                r = self.scope.name_ref(fn, name, 10**9)
                if r is not None and isinstance(r[0], Cell):
                    out.add(r[0])
            for attr in f.attrs_read:
                r = self.scope.ref(fn, attr, attr.lineno)
                if r is not None and isinstance(r[0], Cell):
                    out.add(r[0])
        return out

    def _cache_rules(self, request: _Reach) -> None:
        for key, fn in request.funcs.items():
            self._library_cache_decorators(key, fn, request)
            d = cache_decorator(self.scope, Sym("func", fn.module, fn.name, func=fn))
            # a zero-argument loader of files shipped with the code (its module finds
            # them from `__file__`) reads the same bytes on every replica, once
            loader = not [p for p in fn.params if p not in ("self", "cls")] and \
                "__file__" in fn.module.src.text
            if d is None or not caches.impure(self.scope, fn, files=not loader) or \
                    caches.creates_once(self.scope, fn):
                continue
            rule = "SL119" if caches.bounded_expiring(self.scope, fn, d) or (
                id(fn) in self.summaries.timed_caches) else "SL107"
            chain = [*request.chain[key], _text(fn, d.lineno)]
            self._add(rule, fn.module, d.lineno, d.col_offset, f"{RULES[rule].summary}"
                      f": `{fn.qual}` keeps a per-process copy", f"{fn.qual} cache", chain)

    def _library_cache_decorators(self, key: int, fn: FuncInfo, request: _Reach) -> None:
        """`@cache.cached(60)`/`@cache.memoize()` of Flask-Caching on an in-process
        backend, `@cache_page(60)` on Django's local-memory cache: each worker caches
        its own copy of the response (SL119)."""
        for d in fn.node.decorator_list:
            target = d.func if isinstance(d, ast.Call) else d
            what = ""
            if isinstance(target, ast.Attribute) and target.attr in ("cached", "memoize"):
                owner = fn.parent
                cell = self.summaries.caches.cell(owner, target.value, d.lineno) if \
                    owner is not None else None
                if owner is None:
                    s = self.project.module_expr(fn.module, target.value)
                    if s is not None and s.kind == "global" and s.module is not None:
                        vk = self.project.global_kind(s.module, s.name)
                        if vk == "memcache" or (vk == "flaskcache"
                                                and self.summaries.caches.flask_cache_local()):
                            what = f"`{s.name}`"
                elif cell is not None:
                    what = f"`{cell.name}`"
            elif target is not None:
                s = self.project.module_expr(fn.module, target)
                if s is not None and s.kind == "ext" and s.name == _CACHE_PAGE and \
                        config_rules.locmem_cache(self.project, fn.module):
                    what = "Django's local-memory cache"
            if what:
                chain = [*request.chain[key], _text(fn, d.lineno)]
                self._add("SL119", fn.module, d.lineno, d.col_offset, f"{RULES['SL119'].summary}"
                          f": `{fn.qual}` responses kept in {what}, per process",
                          f"{fn.qual} cache", chain)

    def _config_rules(self) -> None:
        """Limiters, throttles and session engines as configured. Settings a test module
        sets (`@override_settings(SESSION_ENGINE=...)`) configure no deployed process."""
        for mod, call, name in config_rules.limiter_findings(self.project):
            if is_test_module(mod):
                continue
            self._add("SL109", mod, call.lineno, call.col_offset + 1,
                      f"`{name}` without a shared storage_uri counts hits in this process",
                      f"{name} storage", [f"{mod.name} (configuration)",
                                          mod.src.line_text(call.lineno)])
        for mod, node, what in config_rules.throttle_findings(self.project):
            if is_test_module(mod):
                continue
            line = getattr(node, "lineno", 1)
            self._add("SL109", mod, line, getattr(node, "col_offset", 0) + 1,
                      f"DRF throttling ({what}) counts requests in Django's default cache, "
                      "which is local memory here: each process keeps its own counters",
                      "DRF throttle counters", [f"{mod.name} (configuration)",
                                                mod.src.line_text(line)])
        for mod, node, why in config_rules.session_findings(self.project):
            if is_test_module(mod):
                continue
            line = getattr(node, "lineno", 1)
            self._add("SL110", mod, line, getattr(node, "col_offset", 0) + 1, why,
                      "session store", [f"{mod.name} (configuration)", mod.src.line_text(line)])

    def _add(self, rule: str, mod: ModuleInfo, line: int, col: int, message: str, cell: str,
             chain: list[str]) -> None:
        self._add_raw(Finding(rule, RULES[rule].severity, mod.path, line, col, message, cell,
                              chain, _fix(rule, None)))

    def _add_raw(self, finding: Finding) -> None:
        self.candidates.append(finding)

    def _select(self) -> list[Finding]:
        best: dict[tuple[str, int], Finding] = {}
        for f in self.candidates:
            key = (f.path, f.line)
            old = best.get(key)
            if old is None or _rank(f) < _rank(old) or (
                    _rank(f) == _rank(old) and len(f.chain) < len(old.chain)):
                best[key] = f
        return list(best.values())


def _removal(w: Write) -> bool:
    how = w.detail[0] if w.detail else ""
    return (w.op == "setitem" and how == "del") or (
        w.op == "method" and how in ("remove", "discard", "pop", "clear"))


def _rank(f: Finding) -> int:
    return _RANK.get(f.rule, -1)


def _text(fn: FuncInfo, line: int) -> str:
    return fn.module.src.line_text(line)


def _fix(rule: str, cell: Cell | None) -> str:
    fix = RULES[rule].fix
    if cell is not None and cell.kind != "app":
        return f"`{cell.label}`: {fix}"
    return fix


def analyse(paths: Iterable[str | Path], cwd: Path | None = None,
            progress: Callable[[int, int], None] | None = None) -> Result:
    """Analyse files/folders; findings are unsuppressed and unfiltered (see lint.run)."""
    cwd = cwd or Path.cwd()
    paths = list(paths)
    files = discover(paths)
    roots = import_roots(paths, files)
    # Every tree stays alive until the analysis ends; the cyclic collector would
    # rescan them all on each generation-2 pass (quadratic in the tree count).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyse(files, cwd, progress, roots)
    finally:
        if was_enabled:
            gc.enable()


def _analyse(files: list[Path], cwd: Path, progress: Callable[[int, int], None] | None,
             roots: list[Path]) -> Result:
    sources: list[SourceFile] = []
    result = Result(files=len(files))
    for i, path in enumerate(files):
        src = load(path, cwd)
        sources.append(src)
        result.lines += len(src.lines)
        if progress is not None:
            progress(i + 1, len(files))
    checker = Checker(sources, roots)
    try:
        findings = checker.run()
    finally:
        checker.release()
    python2 = [s for s in sources if s.python2]
    if python2:
        used = sorted({f for s in python2 for f in s.python2})
        first = min(s.display for s in python2)
        result.notes.append(Note(first if len(python2) == 1 else os.path.commonpath(
            [s.display for s in python2]) or ".", f"Python 2 code ({len(python2)} file(s), "
            f"e.g. {first}: {', '.join(used)}), not analysed; stateline reads Python 3", "2"))
    templates = [s for s in sources if s.template]
    if templates:
        first = min(s.display for s in templates)
        result.notes.append(Note(first if len(templates) == 1 else os.path.commonpath(
            [s.display for s in templates]) or ".", f"{len(templates)} template file(s) "
            f"named .py (Jinja/cookiecutter markers, e.g. {first}) do not parse; not analysed"))
    for src in sources:
        if src.python2 or src.template:
            continue
        if src.needs:
            used = ", ".join(src.features)
            msg = (f"uses Python {src.needs} syntax ({used}); analysed through a "
                   "compatibility rewrite" if src.rewritten else
                   f"needs Python ≥ {src.needs} to parse ({used}); not analysed")
            result.notes.append(Note(src.display, msg, src.needs))
        if src.error is not None:
            err = src.error
            findings.append(Finding("SL001", "error", src.display, err.lineno or 1,
                                    err.offset or 1, f"syntax error: {err.msg}", "",
                                    [], RULES["SL001"].fix))
    result.findings = _suppress(findings, {s.display: s for s in sources}, result)
    result.findings.sort(key=lambda f: (f.path, f.line, f.col, f.rule))
    return result


def _suppress(findings: list[Finding], sources: dict[str, SourceFile], result: Result
              ) -> list[Finding]:
    from stateline.lint.rules import NAMES
    out: list[Finding] = []
    for f in findings:
        src = sources.get(f.path)
        sup = src.suppressions.get(f.line) if src else None
        if sup is not None and sup.reason:
            ids = {NAMES.get(r.lower(), r.upper()) for r in sup.rules}
            if f.rule in ids:
                result.suppressed.append(f)
                continue
        out.append(f)
    for src in sources.values():
        for line, sup in src.suppressions.items():
            if not sup.reason:
                out.append(Finding("SL002", "error", src.display, line, 1,
                                   "suppression without a reason", "", [],
                                   RULES["SL002"].fix))
    return out
