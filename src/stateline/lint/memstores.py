"""SL121: a library's in-memory store kept for the life of the process.

Auth, bot and agent libraries ship a store class for development that keeps its
entries in a dict inside the object: `MemoryStateStore()`, `InMemoryTokenStore()`,
`MemoryStorage()` (bot FSM state), `MemorySaver()` (agent checkpoints),
`SessionMemoryBackend()`. Made at import and used while serving requests, it holds
per-process state the analyser cannot see into: an OAuth state saved by the login
on one replica is not there for the callback on the next.

Reported at the construction, like a limiter without storage, when the store is
(a) made at module level from a library class named like an in-memory store and
(b) reached from a request: one of its mutating methods is called from a request
path, or it is handed to another module-level object (`OAuthClient(state_store=
_store)`) that a request path uses, or to a middleware (`app.add_middleware(Sessions,
store=InMemoryStore())`). A store the project defines itself is analysed
like any other class and is not this rule's business.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo, ModuleInfo
from stateline.lint.random_keys import not_deployed
from stateline.lint.scope import Scope

_STORE = re.compile(r"^(?:InMemory|Memory|Mem)\w*(?:Store|Storage|Backend|Saver|Repository)$"
                    r"|\w+Memory(?:Store|Storage|Backend|Saver)$")
_MUTATING = re.compile(r"^(?:save|set|add|put|store|delete|remove|update|insert|append|write"
                       r"|create|push|pop|clear|register|upsert|aset|aput|asave|adelete)",
                       re.IGNORECASE)


# a store handed to a middleware: every request goes through it
_EVERY_REQUEST = ("", "<middleware>")


@dataclass(frozen=True)
class MemStore:
    mod: ModuleInfo
    node: ast.Call  # the construction
    cls: str  # the library class, dotted
    name: str  # the global holding it ("" when made inline as an argument)


def _constructions(scope: Scope, mod: ModuleInfo) -> Iterator[tuple[ast.Call, str, str,
                                                                     ast.Call | None]]:
    """(construction, class, global it is bound to, call it is an argument of) for the
    module's top-level statements."""
    tree = mod.src.tree
    if tree is None:
        return
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            name = targets[0].id if isinstance(targets[0], ast.Name) else ""
            value = stmt.value
        elif isinstance(stmt, ast.Expr):
            name, value = "", stmt.value
        else:
            continue
        if not isinstance(value, ast.Call):
            continue
        dotted = _store_class(scope, mod, value)
        if dotted and name:
            yield value, dotted, name, None
        # made inline as an argument: `client = OAuthClient(state_store=MemoryStateStore())`
        for arg in [*value.args, *(k.value for k in value.keywords)]:
            if isinstance(arg, ast.Call):
                inner = _store_class(scope, mod, arg)
                if inner:
                    yield arg, inner, name, value


def _store_class(scope: Scope, mod: ModuleInfo, call: ast.Call) -> str:
    s = scope.p.module_expr(mod, call.func)
    if s is None or s.kind != "ext":
        return ""
    return s.name if _STORE.search(s.name.rsplit(".", 1)[-1]) else ""


def _global_of(scope: Scope, fn: FuncInfo, node: ast.expr, line: int) -> tuple[str, str]:
    s = scope.sym(fn, node, line)
    if s is None or s.kind != "global" or s.module is None:
        return "", ""
    return s.module.name, s.name


def mem_stores(scope: Scope, modules: list[ModuleInfo], per_request: list[FuncInfo]
               ) -> list[MemStore]:
    """Library in-memory stores made at import and reached from a request."""
    found: list[tuple[MemStore, set[tuple[str, str]]]] = []
    for mod in modules:
        if "Memory" not in mod.src.text and "Mem" not in mod.src.text:
            continue
        if not_deployed(mod):
            continue
        for call, dotted, name, holder in _constructions(scope, mod):
            # the globals through which a request reaches the store
            via: set[tuple[str, str]] = set()
            if holder is None:
                via.add((mod.name, name))
                for other, value in mod.globals.items():
                    if isinstance(value, ast.Call) and value is not call and any(
                            isinstance(n, ast.Name) and n.id == name
                            for a in [*value.args, *(k.value for k in value.keywords)]
                            for n in ast.walk(a)):
                        via.add((mod.name, other))  # handed to a library object
            elif name:
                via.add((mod.name, name))
            elif ast.unparse(holder.func).endswith("add_middleware"):
                via.add(_EVERY_REQUEST)  # `app.add_middleware(Sessions, store=InMemoryStore())`
            found.append((MemStore(mod, call, dotted, name if holder is None else ""), via))
    if not found:
        return []
    used: set[tuple[str, str]] = set()
    direct: set[tuple[str, str]] = set()
    for fn in per_request:
        for c in facts_of(fn).calls:
            if isinstance(c.func, ast.Attribute):
                key = _global_of(scope, fn, c.func.value, c.lineno)
                if key[0]:
                    used.add(key)
                    if _MUTATING.match(c.func.attr):
                        direct.add(key)
    out: list[MemStore] = []
    for store, via in found:
        own = (store.mod.name, store.name)
        if (store.name and own in direct) or _EVERY_REQUEST in via or any(
                v in used for v in via if v != own):
            out.append(store)
    return out
