"""Name and expression resolution across the analysed tree.

`Project` answers "what does this name mean here": an analysed module, function
or class, a module global (a state cell), or an external dotted name such as
`collections.defaultdict` or `redis.Redis`. It follows imports with aliases,
relative imports and packages, and re-exports through `__init__` modules.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

from stateline.lint.index import ClassInfo, FuncInfo, ModuleInfo
from stateline.lint.libcaches import kind_of as libcache_kind
from stateline.lint.roots import dotted_under
from stateline.lint.values import CONTAINERS, bounded_ttl, kind_of_call, literal_kind

_DATA_MODEL_BASES = ("pydantic", "sqlmodel", "msgspec", "attr", "django.db.models",
                     "sqlalchemy", "marshmallow", "typing.NamedTuple", "typing.TypedDict",
                     "enum", "dataclasses", "rest_framework.serializers", "django.forms",
                     "django.apps")
_CONTAINER_BASES = {"builtins.dict": "dict", "builtins.list": "list", "builtins.set": "set",
                    "collections.OrderedDict": "ordereddict",
                    "collections.defaultdict": "defaultdict", "collections.deque": "deque",
                    "collections.Counter": "counter", "collections.UserDict": "dict",
                    "collections.UserList": "list"}


@dataclass(frozen=True)
class Sym:
    """What a name denotes. kind: module | func | class | global | ext."""

    kind: str
    module: ModuleInfo | None = None
    name: str = ""
    func: FuncInfo | None = None
    cls: ClassInfo | None = None


class Project:
    def __init__(self, modules: list[ModuleInfo], roots: list[Path] | None = None) -> None:
        self.modules = modules
        self.by_key: dict[tuple[Path, str], ModuleInfo] = {}
        self.by_name: dict[str, ModuleInfo] = {}
        # Other names a module is importable by (roots.py), and files by location
        # for sibling imports (`from views import x` next to views.py).
        self.aliases: dict[str, ModuleInfo] = {}
        self.by_file: dict[tuple[Path, str], ModuleInfo] = {}
        for m in modules:
            self.by_key.setdefault((m.root, m.name), m)
            self.by_name.setdefault(m.name, m)
            path = Path(os.path.abspath(m.src.path))
            stem = path.parent.name if path.stem == "__init__" else path.stem
            folder = path.parent.parent if path.stem == "__init__" else path.parent
            self.by_file.setdefault((folder, stem), m)
            for r in roots or ():
                alias = dotted_under(path, r)
                if alias is not None and alias != m.name:
                    self.aliases.setdefault(alias, m)
        self.classes: dict[str, ClassInfo] = {}
        for m in modules:
            for c in m.all_classes:
                self.classes[class_id(c)] = c
        self._kinds: dict[tuple[str, str], str] = {}
        self._ext_bases: dict[int, tuple[str, ...]] = {}

    # modules and symbols -------------------------------------------------
    def find_module(self, name: str, near: ModuleInfo) -> ModuleInfo | None:
        """The analysed module `import name` means in `near`, as Python would find it:
        the same import root, any module of that name, another root's name for it
        (namespace packages, src/ layouts, declared roots), or a sibling file."""
        hit = self.by_key.get((near.root, name)) or self.by_name.get(name) or \
            self.aliases.get(name)
        if hit is None and name:
            parts = name.split(".")
            folder = Path(os.path.abspath(near.src.path)).parent.joinpath(*parts[:-1])
            hit = self.by_file.get((folder, parts[-1]))
        return hit

    def symbol(self, mod: ModuleInfo, name: str, depth: int = 0) -> Sym | None:
        if name in mod.functions:
            return Sym("func", mod, name, func=mod.functions[name])
        if name in mod.classes:
            return Sym("class", mod, name, cls=mod.classes[name])
        if name in mod.imports:
            base, attr = mod.imports[name]
            return self.import_target(mod, base, attr, depth)
        if name in mod.globals:
            return Sym("global", mod, name)
        if mod.stars and depth < 8:
            for base in mod.stars:  # `from .types import *` re-exports an analysed module
                target = self.find_module(base, mod)
                if target is not None and target is not mod and self.defines(target, name):
                    return self.symbol(target, name, depth + 1)
        return Sym("ext", name=f"builtins.{name}")

    def defines(self, mod: ModuleInfo, name: str, depth: int = 0) -> bool:
        """Whether `name` is bound at the top of `mod`, also through its `*` imports."""
        if (name in mod.functions or name in mod.classes or name in mod.imports
                or name in mod.globals):
            return True
        return depth < 4 and any(
            t is not None and t is not mod and self.defines(t, name, depth + 1)
            for t in (self.find_module(b, mod) for b in mod.stars))

    def import_target(self, mod: ModuleInfo, base: str, attr: str, depth: int = 0) -> Sym | None:
        if not attr:
            target = self.find_module(base, mod)
            return Sym("module", target, base) if target else Sym("ext", name=base)
        sub = self.find_module(f"{base}.{attr}", mod)
        if sub is not None:
            return Sym("module", sub, sub.name)
        owner = self.find_module(base, mod)
        if owner is not None and depth < 8:
            if self.defines(owner, attr):
                return self.symbol(owner, attr, depth + 1)
            return None
        return Sym("ext", name=f"{base}.{attr}")

    def member(self, sym: Sym | None, attr: str) -> Sym | None:
        """`sym.attr` for modules, classes and external names."""
        if sym is None:
            return None
        if sym.kind == "module" and sym.module is not None:
            m = sym.module
            if self.defines(m, attr):
                return self.symbol(m, attr)
            sub = self.find_module(f"{m.name}.{attr}", m)
            return Sym("module", sub, sub.name) if sub else None
        if sym.kind == "ext":
            return Sym("ext", name=f"{sym.name}.{attr}")
        return None

    def module_expr(self, mod: ModuleInfo, node: ast.expr) -> Sym | None:
        """Resolve a Name/Attribute chain at module scope."""
        if isinstance(node, ast.Name):
            return self.symbol(mod, node.id)
        if isinstance(node, ast.Attribute):
            return self.member(self.module_expr(mod, node.value), node.attr)
        return None

    # classes -------------------------------------------------------------
    def bases(self, cls: ClassInfo) -> list[ClassInfo | str]:
        out: list[ClassInfo | str] = []
        for b in cls.node.bases:
            if isinstance(b, ast.Subscript):
                b = b.value
            s = self.module_expr(cls.module, b)
            if s is None:
                continue
            if s.kind == "class" and s.cls is not None and s.cls is not cls:
                out.append(s.cls)
            elif s.kind == "ext":
                out.append(s.name)
        return out

    def ext_bases(self, cls: ClassInfo, depth: int = 0) -> tuple[str, ...]:
        """External dotted names among all ancestors (e.g. `flask.views.MethodView`)."""
        key = id(cls)
        if key in self._ext_bases:
            return self._ext_bases[key]
        self._ext_bases[key] = ()
        out: list[str] = []
        for b in self.bases(cls):
            if isinstance(b, str):
                out.append(b)
            elif depth < 10:
                out.extend(self.ext_bases(b, depth + 1))
        self._ext_bases[key] = tuple(out)
        return self._ext_bases[key]

    def mro(self, cls: ClassInfo, depth: int = 0) -> list[ClassInfo]:
        out = [cls]
        if depth < 10:
            for b in self.bases(cls):
                if isinstance(b, ClassInfo):
                    out.extend(c for c in self.mro(b, depth + 1) if c not in out)
        return out

    def find_method(self, cls: ClassInfo, name: str, skip_self: bool = False) -> FuncInfo | None:
        for c in self.mro(cls)[1 if skip_self else 0:]:
            if name in c.methods:
                return c.methods[name]
        return None

    def is_data_model(self, cls: ClassInfo) -> bool:
        for d in cls.node.decorator_list:
            if "dataclass" in ast.unparse(d) or "attr" in ast.unparse(d):
                return True
        return any(b.startswith(_DATA_MODEL_BASES) for b in self.ext_bases(cls))

    def class_attr(self, cls: ClassInfo, attr: str) -> tuple[ClassInfo, ast.expr | None] | None:
        for c in self.mro(cls):
            if attr in c.attrs:
                return c, c.attrs[attr]
        return None

    # what a global holds ---------------------------------------------------
    def global_kind(self, mod: ModuleInfo, name: str) -> str:
        key = (mod.name + str(mod.root), name)
        if key not in self._kinds:
            self._kinds[key] = "unknown"  # cycle guard
            value = mod.globals.get(name)
            self._kinds[key] = self.classify(mod, value) if value is not None else "none"
        return self._kinds[key]

    def classify(self, mod: ModuleInfo, node: ast.expr | None, depth: int = 0) -> str:
        """The vkind of the value `node` evaluates to at module scope."""
        if node is None:
            return "unknown"
        lit = literal_kind(node)
        if lit is not None:
            return lit
        if depth > 6:
            return "unknown"
        if isinstance(node, ast.Call):
            callee = self.module_expr(mod, node.func)
            if callee is not None and callee.kind == "ext" and callee.name in (
                    "aiocache.Cache", "aiocache.caches.Cache"):
                return libcache_kind(callee.name, node) or "external"
            kind = self.call_kind(callee, depth)
            if kind == "ttlcache" and not bounded_ttl(node):
                return "container"  # unbounded or long-lived: a store like any dict
            return kind
        if isinstance(node, ast.Name | ast.Attribute):
            s = self.module_expr(mod, node)
            if s is None:
                return "unknown"
            if s.kind == "global" and s.module is not None:
                if s.module is mod and isinstance(node, ast.Name):
                    v = mod.globals.get(s.name)
                    return self.classify(mod, v, depth + 1) if v is not node else "unknown"
                return self.global_kind(s.module, s.name)
            return {"func": "function", "class": "class", "module": "module"}.get(
                s.kind, "external")
        return "unknown"

    def call_kind(self, callee: Sym | None, depth: int = 0) -> str:
        if callee is None:
            return "unknown"
        if callee.kind == "ext":
            return kind_of_call(callee.name)
        if callee.kind == "class" and callee.cls is not None:
            for b in self.ext_bases(callee.cls):
                if b in _CONTAINER_BASES:
                    return _CONTAINER_BASES[b]
            return "instance:" + class_id(callee.cls)
        if callee.kind == "func" and callee.func is not None:
            fn = callee.func
            if any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(fn.node)):
                return "iter"  # a generator object: next() consumes shared state
            for stmt in ast.walk(fn.node):
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    return self.classify(fn.module, stmt.value, depth + 1)
        return "unknown"

    def class_of_kind(self, vkind: str) -> ClassInfo | None:
        if vkind.startswith("instance:"):
            return self.classes.get(vkind[len("instance:"):])
        return None


def called_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else (f.id if isinstance(f, ast.Name) else "")


def module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Top-level statements, looking into if/try/with but not into defs or classes."""
    out: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(stmt, ast.If | ast.Try | ast.With):
            inner = [*getattr(stmt, "body", []), *getattr(stmt, "orelse", []),
                     *getattr(stmt, "finalbody", [])]
            for h in getattr(stmt, "handlers", []):
                inner.extend(h.body)
            out.extend(module_level(inner))
            if isinstance(stmt, ast.If):
                out.append(ast.Expr(stmt.test))
            continue
        out.append(stmt)
    return out


def class_id(cls: ClassInfo) -> str:
    return f"{cls.module.name}@{cls.module.root}:{cls.qual}"


def is_container(vkind: str) -> bool:
    return vkind in CONTAINERS
