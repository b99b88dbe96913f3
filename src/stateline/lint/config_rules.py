"""Rules read from configuration rather than from request code paths.

A rate limiter without a storage URI, Flask-Session on the filesystem, Django
cache sessions on the default local-memory cache: these are wrong the moment
they are configured, whether or not the analyser can see the request that
uses them, so they are reported at the configuration line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from stateline.lint.index import ModuleInfo
from stateline.lint.resolve import Project

LIMITERS = frozenset({"slowapi.Limiter", "slowapi.extension.Limiter", "flask_limiter.Limiter",
                      "flask_limiter.extension.Limiter"})
_STORAGE_KEYS = ("RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_URL")
_LOCAL_SESSION_ENGINES = frozenset({"django.contrib.sessions.backends.cache",
                                    "django.contrib.sessions.backends.file"})


def _const(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def limiter_findings(project: Project) -> Iterator[tuple[ModuleInfo, ast.Call, str]]:
    """slowapi / flask-limiter constructed without shared storage (SL109)."""
    configured = any(
        key in m.src.text and "memory://" not in m.src.text
        for m in project.modules for key in _STORAGE_KEYS)
    for mod in project.modules:
        if "imiter" not in mod.src.text:
            continue
        for call, _owner in mod.calls:
            s = project.module_expr(mod, call.func)
            if s is None or s.kind != "ext" or s.name not in LIMITERS:
                continue
            storage = next((k.value for k in call.keywords if k.arg == "storage_uri"), None)
            uri = _const(storage)
            if storage is not None and (uri is None or not uri.startswith("memory://")):
                continue
            if storage is None and configured:
                continue
            yield mod, call, s.name


def _assignments(tree: ast.Module, key: str) -> Iterator[tuple[ast.AST, ast.expr]]:
    """Every `KEY = v`, `x.KEY = v`, `cfg["KEY"] = v`, `f(KEY=v)`, `{"KEY": v}`."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign | ast.AnnAssign):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                name = (t.id if isinstance(t, ast.Name) else t.attr if isinstance(
                    t, ast.Attribute) else _const(t.slice) if isinstance(t, ast.Subscript)
                        else None)
                if name == key and n.value is not None:
                    yield n, n.value
        elif isinstance(n, ast.keyword) and n.arg == key:
            yield n, n.value
        elif isinstance(n, ast.Dict):
            for k, v in zip(n.keys, n.values, strict=False):
                if k is not None and _const(k) == key:
                    yield k, v


def locmem_cache(project: Project, near: ModuleInfo) -> bool:
    """Whether Django's default cache is the per-process local-memory one, judged from
    the settings module next to `near` (same import root), else any settings module.
    Without `CACHES`, Django's default is the local-memory cache."""
    same_root = [m for m in project.modules if m.root == near.root]
    for group in (same_root, project.modules):
        settings = [m for m in group if "CACHES" in m.globals or "INSTALLED_APPS" in m.globals]
        if settings:
            return all(_default_backend_is_locmem(m.globals["CACHES"])
                       if m.globals.get("CACHES") is not None else True for m in settings)
    return True


def _default_backend_is_locmem(caches: ast.expr) -> bool:
    if not isinstance(caches, ast.Dict):
        return False
    for k, v in zip(caches.keys, caches.values, strict=False):
        if k is not None and _const(k) == "default" and isinstance(v, ast.Dict):
            for bk, bv in zip(v.keys, v.values, strict=False):
                if bk is not None and _const(bk) == "BACKEND":
                    return "locmem" in (_const(bv) or "")
    return False


def session_findings(project: Project) -> Iterator[tuple[ModuleInfo, ast.AST, str]]:
    """Flask-Session on the filesystem; Django sessions in the local cache or files (SL110)."""
    for mod in project.modules:
        text = mod.src.text
        tree = mod.src.tree
        if tree is None:
            continue
        if "SESSION_TYPE" in text:
            for node, value in _assignments(tree, "SESSION_TYPE"):
                if _const(value) in ("filesystem", "cachelib"):
                    yield mod, node, "Flask-Session keeps sessions in files on this host"
        if "SESSION_ENGINE" in text:
            caches = mod.globals.get("CACHES")
            local_cache = caches is None or _default_backend_is_locmem(caches)
            for node, value in _assignments(tree, "SESSION_ENGINE"):
                engine = _const(value)
                if engine == "django.contrib.sessions.backends.file" or (
                        engine == "django.contrib.sessions.backends.cache" and local_cache):
                    yield mod, node, f"SESSION_ENGINE {engine!r} keeps sessions in this process"


_THROTTLE_HINTS = ("THROTTLE_CLASSES", "throttle_classes")


def _non_empty(node: ast.expr | None) -> bool:
    return isinstance(node, ast.List | ast.Tuple | ast.Set) and bool(node.elts)


def _throttle_has_own_cache(project: Project, mod: ModuleInfo, elts: list[ast.expr]) -> bool:
    """Throttle classes that set their own `cache = caches["redis"]` are shared."""
    for e in elts:
        cls = None
        if isinstance(e, ast.Constant) and isinstance(e.value, str) and "." in e.value:
            mname, _, cname = e.value.rpartition(".")
            target = project.find_module(mname, mod)
            cls = target.classes.get(cname) if target is not None else None
        elif isinstance(e, ast.Name | ast.Attribute):
            s = project.module_expr(mod, e)
            cls = s.cls if s is not None and s.kind == "class" else None
        if cls is not None and project.class_attr(cls, "cache") is not None:
            return True
    return False


def throttle_findings(project: Project) -> Iterator[tuple[ModuleInfo, ast.AST, str]]:
    """DRF throttling on Django's default cache when that cache is the per-process
    local-memory one (no `CACHES`, or a locmem default): `DEFAULT_THROTTLE_CLASSES`
    in settings, `throttle_classes = [...]` on a view, `@throttle_classes([...])`."""
    for mod in project.modules:
        text = mod.src.text
        tree = mod.src.tree
        if tree is None or not any(h in text for h in _THROTTLE_HINTS):
            continue
        if not locmem_cache(project, mod):
            continue
        for n in ast.walk(tree):
            if isinstance(n, ast.Dict):
                for k, v in zip(n.keys, n.values, strict=False):
                    if k is not None and _const(k) == "DEFAULT_THROTTLE_CLASSES" and \
                            _non_empty(v) and not _throttle_has_own_cache(
                                project, mod, v.elts):  # type: ignore[union-attr]
                        yield mod, k, "DEFAULT_THROTTLE_CLASSES"
            elif isinstance(n, ast.ClassDef):
                for st in n.body:
                    if isinstance(st, ast.Assign) and any(
                            isinstance(t, ast.Name) and t.id == "throttle_classes"
                            for t in st.targets) and _non_empty(st.value) and not \
                            _throttle_has_own_cache(project, mod, st.value.elts):  # type: ignore[attr-defined]
                        yield mod, st, "throttle_classes"
            elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
                for d in n.decorator_list:
                    if isinstance(d, ast.Call) and (
                            getattr(d.func, "id", "") == "throttle_classes"
                            or getattr(d.func, "attr", "") == "throttle_classes") and \
                            d.args and _non_empty(d.args[0]) and not _throttle_has_own_cache(
                                project, mod, d.args[0].elts):  # type: ignore[attr-defined]
                        yield mod, d, "@throttle_classes"
