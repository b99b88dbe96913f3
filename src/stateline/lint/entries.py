"""Where request handling starts: entry points for FastAPI, Starlette, Flask,
Django (incl. DRF) and aiohttp, Socket.IO event handlers (Flask-SocketIO,
python-socketio) and Dash callbacks, plus the background jobs that code spawns.

Only code reachable from these entries runs per request; everything else
(module top level, app factories, lifespan and startup hooks, `AppConfig.ready`,
CLI code) is the start-up phase and may build tables freely.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from stateline.lint.calls import instance_cell
from stateline.lint.index import ClassInfo, FuncInfo, ModuleInfo
from stateline.lint.model import Cell
from stateline.lint.resolve import Project, Sym
from stateline.lint.scope import Scope

HTTP_METHODS = frozenset({"get", "post", "put", "delete", "patch", "head", "options", "trace"})
_ROUTE_DECORATORS = HTTP_METHODS | {"route", "api_route", "websocket", "websocket_route",
                                    "view", "api_websocket_route"}
_HOOKS = frozenset({"before_request", "after_request", "teardown_request", "teardown_appcontext",
                    "before_app_request", "after_app_request", "teardown_app_request",
                    "context_processor", "url_value_preprocessor", "url_defaults",
                    "app_context_processor", "middleware", "exception_handler", "errorhandler",
                    "app_errorhandler", "on_request", "on_response"})
_RECEIVER = re.compile(r"(^|_)(app|router|api|bp|blueprint|routes|views?|web|ns|application)$",
                       re.IGNORECASE)
_REGISTRATIONS = {  # method → index of the handler argument (keyword names as fallback)
    "add_api_route": (1, "endpoint"), "add_route": (1, "route"),
    "add_url_rule": (2, "view_func"), "add_websocket_route": (1, "route"),
    "add_api_websocket_route": (1, "endpoint"), "add_get": (1, "handler"),
    "add_post": (1, "handler"), "add_put": (1, "handler"), "add_patch": (1, "handler"),
    "add_delete": (1, "handler"), "add_head": (1, "handler"), "add_options": (1, "handler"),
    "add_view": (1, "handler"), "add_exception_handler": (1, "handler"),
    "register_error_handler": (1, "f"), "register": (1, "viewset"),
    "add_resource": (0, "resource"),
}
_ROUTE_CALLS = {  # external constructors/functions taking (path, handler)
    "starlette.routing.Route": 1, "starlette.routing.WebSocketRoute": 1,
    "django.urls.path": 1, "django.urls.re_path": 1, "django.conf.urls.url": 1,
    "django.conf.urls.defaults.url": 1, "django.urls.conf.path": 1,
    "django.urls.conf.re_path": 1,
    "aiohttp.web.get": 1, "aiohttp.web.post": 1, "aiohttp.web.put": 1,
    "aiohttp.web.patch": 1, "aiohttp.web.delete": 1, "aiohttp.web.head": 1,
    "aiohttp.web.view": 1, "aiohttp.web.route": 2, "fastapi.routing.APIRoute": 1,
}
_BACKGROUND = {"add_task": 0, "submit": 0, "start_soon": 0, "add_job": 0, "run_in_executor": 1,
               "call_soon": 0, "call_later": 1, "run_sync": 0}
_TASK_WRAPPERS = frozenset({"create_task", "ensure_future", "run_coroutine_threadsafe", "spawn"})
_VIEW_PREFIXES = ("django.views", "rest_framework.views", "rest_framework.viewsets",
                  "rest_framework.generics", "rest_framework.mixins", "flask.views",
                  "starlette.endpoints", "aiohttp.web.View", "aiohttp.web_urldispatcher.View",
                  "quart.views", "ninja", "flask_restful.Resource", "flask_restx.Resource")
_MIDDLEWARE_BASES = ("starlette.middleware.base.BaseHTTPMiddleware",
                     "django.utils.deprecation.MiddlewareMixin")
MIDDLEWARE_METHODS = ("__call__", "dispatch", "process_request", "process_view",
                      "process_response", "process_exception", "process_template_response",
                      "__acall__")
_SIGNALS = frozenset({"on_response_prepare", "middlewares", "on_request_start"})
# `@socketio.on("join")`, `@sio.event`: a handler per client event, on any worker.
_SOCKETIO_DECORATORS = frozenset({"on", "event"})
# `@dash.callback(...)`, `from dash import callback`: a callback per browser update.
_DASH_CALLBACKS = frozenset({"dash.callback", "dash._callback.callback"})


@dataclass(frozen=True)
class Entry:
    func: FuncInfo
    label: str
    self_cell: Cell | None = None
    background: bool = False
    spawner: FuncInfo | None = None


class EntryFinder:
    def __init__(self, project: Project, scope: Scope) -> None:
        self.p = project
        self.scope = scope
        self.entries: list[Entry] = []
        self.extra_edges: list[tuple[FuncInfo, FuncInfo, Cell | None]] = []
        self._seen: set[tuple[int, bool]] = set()

    def add(self, fn: FuncInfo, label: str, self_cell: Cell | None = None,
            background: bool = False, spawner: FuncInfo | None = None) -> None:
        key = (id(fn), background)
        if key not in self._seen:
            self._seen.add(key)
            self.entries.append(Entry(fn, label, self_cell, background, spawner))

    def add_class(self, cls: ClassInfo, per_process: bool, label: str = "") -> None:
        cell = instance_cell(cls) if per_process else None
        methods = MIDDLEWARE_METHODS if per_process else None
        for c in self.p.mro(cls):
            for name, m in c.methods.items():
                if methods is not None and name not in methods:
                    continue
                verb = name.upper() if name in HTTP_METHODS else ""
                tag = label or ("middleware" if per_process else "view")
                self.add(m, f"{verb} {cls.name}.{name}".strip() if verb
                         else f"{tag} {cls.name}.{name}", cell)

    def find(self) -> list[Entry]:
        for mod in self.p.modules:
            if not is_test_module(mod):
                self._module(mod)
        return self.entries

    # ------------------------------------------------------------------
    def _sym(self, owner: FuncInfo | None, mod: ModuleInfo, node: ast.expr) -> Sym | None:
        if owner is not None:
            return self.scope.sym(owner, node, getattr(node, "lineno", 0))
        return self.p.module_expr(mod, node)

    def _target(self, owner: FuncInfo | None, mod: ModuleInfo, node: ast.expr, label: str,
                background: bool = False) -> None:
        """Register whatever `node` names (function, view class, `V.as_view()`)."""
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in ("as_view", "as_asgi"):
                node = f.value
            elif node.args:
                self._applied_decorator(owner, mod, node, label, background)
                return self._target(owner, mod, node.args[0], label, background)
            else:
                return None
        s = self._sym(owner, mod, node)
        if s is None:
            return None
        if s.kind == "func" and s.func is not None:
            self.add(s.func, label, background=background, spawner=owner)
        elif s.kind == "class" and s.cls is not None:
            if background:
                init = self.p.find_method(s.cls, "run") or self.p.find_method(s.cls, "__call__")
                if init is not None:
                    self.add(init, label, background=True, spawner=owner)
            else:
                self.add_class(s.cls, per_process=False)
        elif s.kind == "global" and s.module is not None:
            cls = self.p.class_of_kind(self.p.global_kind(s.module, s.name))
            call = self.p.find_method(cls, "__call__") if cls else None
            if call is not None:
                cell = self.scope.global_cell(s)
                self.add(call, label, cell, background=background, spawner=owner)
        return None

    def _applied_decorator(self, owner: FuncInfo | None, mod: ModuleInfo, node: ast.Call,
                           label: str, background: bool) -> None:
        """A decorator applied by a call where a view is registered, not with `@`:
        `cached(3600)(View.as_view())`, `cache_page(60)(view)`, `view_func=memo(f)`.
        The analysed decorator's inner function is what each request runs."""
        applier = node.func
        levels = 1
        if isinstance(applier, ast.Call):  # `deco(args)(view)`: one level more
            applier, levels = applier.func, 2
        s = self._sym(owner, mod, applier)
        if s is None or s.kind != "func" or s.func is None:
            return
        level = list(s.func.nested.values())
        for _ in range(levels - 1):
            level = [inner for f in level for inner in f.nested.values()]
        for inner in level:
            self.add(inner, f"{label} → {s.func.name}", background=background, spawner=owner)

    def _module(self, mod: ModuleInfo) -> None:
        for fn in mod.all_funcs:
            for d in fn.node.decorator_list:
                self._decorator(fn, d)
        for cls in mod.all_classes:
            self._class(cls)
        for call, owner in mod.calls:
            self._call(mod, call, owner)
        if "django" in mod.src.text:
            self._django(mod)

    def _decorator(self, fn: FuncInfo, d: ast.expr) -> None:
        mod = fn.module
        call = d if isinstance(d, ast.Call) else None
        target = d.func if call is not None else d
        s = self._sym(fn.parent, mod, target)
        if s is not None and s.kind == "ext" and s.name in _DASH_CALLBACKS and call is not None:
            self.add(fn, f"CALLBACK {fn.name}")  # `@callback(...)` or `@dash.callback(...)`
            return
        if not isinstance(target, ast.Attribute):
            if s is not None and s.kind == "ext" and s.name.endswith(
                    ("api_view", "rest_framework.decorators.action")):
                self.add(fn, f"view {fn.name}")
            elif s is not None and s.kind == "ext" and s.name == "django.dispatch.receiver":
                # signal receivers run inside the request that saved the model
                self.add(fn, f"signal receiver {fn.name}")
            return
        attr = target.attr
        recv = target.value
        if attr == "receiver" and s is not None and s.kind == "ext" and s.name.startswith(
                "django."):
            self.add(fn, f"signal receiver {fn.name}")
            return
        if s is not None and s.kind == "ext" and s.name == "aiohttp.web.middleware":
            self.add(fn, f"middleware {fn.name}")
            return
        server = self._global_kind(fn.parent, mod, recv)
        if server == "socketio" and attr in _SOCKETIO_DECORATORS:
            event = call.args[0].value if call is not None and call.args and isinstance(
                call.args[0], ast.Constant) else fn.name
            self.add(fn, f"EVENT {event}")
            return
        if server == "dash" and attr == "callback" and call is not None:
            self.add(fn, f"CALLBACK {fn.name}")
            return
        if not self._is_receiver(fn.parent, mod, recv):
            return
        if attr in _ROUTE_DECORATORS and call is not None:
            self.add(fn, route_label(attr, call))
        elif attr in _HOOKS:
            if attr in ("middleware",) and call is None and isinstance(recv, ast.Name) and \
                    recv.id == "web":
                self.add(fn, f"middleware {fn.name}")
            else:
                self.add(fn, f"{attr} {fn.name}")

    def _global_kind(self, owner: FuncInfo | None, mod: ModuleInfo, recv: ast.expr) -> str:
        """The vkind of the module-level object `recv` names (`socketio`, `dash`, `app`...)."""
        s = self._sym(owner, mod, recv)
        if s is not None and s.kind == "global" and s.module is not None:
            return self.p.global_kind(s.module, s.name)
        return ""

    def _is_receiver(self, owner: FuncInfo | None, mod: ModuleInfo, recv: ast.expr) -> bool:
        name = recv.attr if isinstance(recv, ast.Attribute) else (
            recv.id if isinstance(recv, ast.Name) else "")
        return bool(_RECEIVER.search(name)) or self._global_kind(owner, mod, recv) == "app"

    def _class(self, cls: ClassInfo) -> None:
        bases = self.p.ext_bases(cls)
        if any(b.startswith(_MIDDLEWARE_BASES) for b in bases):
            self.add_class(cls, per_process=True)
        elif any(b.startswith(_VIEW_PREFIXES) for b in bases):
            self.add_class(cls, per_process=False)
        elif "__call__" in cls.methods and "__init__" in cls.methods:
            params = cls.methods["__init__"].params
            if len(params) >= 2 and params[1] == "get_response":
                self.add_class(cls, per_process=True)
        for d in cls.node.decorator_list:
            if (isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
                    and d.func.attr == "view"):
                self.add_class(cls, per_process=False)

    def _call(self, mod: ModuleInfo, call: ast.Call, owner: FuncInfo | None) -> None:
        f = call.func
        name = f.attr if isinstance(f, ast.Attribute) else (f.id if isinstance(f, ast.Name)
                                                            else "")
        if name in _REGISTRATIONS:
            idx, kw = _REGISTRATIONS[name]
            if name == "add_route" and call.args and _is_method_str(call.args[0]):
                idx = 2
            if name == "register" and not (isinstance(f, ast.Attribute)
                                           and "router" in ast.unparse(f.value).lower()):
                return
            node = _arg(call, idx, kw, "view_func", "endpoint", "handler")
            if node is not None:
                self._target(owner, mod, node, _call_label(name, call))
            return
        if name in ("Depends", "Security"):
            if call.args:
                self._depends(mod, call.args[0], owner)
            return
        if name in ("add_middleware", "Middleware") and call.args:
            s = self._sym(owner, mod, call.args[0])
            if s is not None and s.kind == "class" and s.cls is not None:
                self.add_class(s.cls, per_process=True)
            return
        if name == "append" and isinstance(f, ast.Attribute) and isinstance(
                f.value, ast.Attribute) and f.value.attr in _SIGNALS and call.args:
            self._target(owner, mod, call.args[0], f"{f.value.attr} hook")
            return
        if name == "connect" and isinstance(f, ast.Attribute) and call.args and \
                self._is_signal(owner, mod, f.value):
            self._target(owner, mod, call.args[0], "signal receiver")
            return
        if name in _BACKGROUND and call.args and len(call.args) > _BACKGROUND[name]:
            self._target(owner, mod, call.args[_BACKGROUND[name]], f"background {name}",
                         background=True)
            return
        if name in _TASK_WRAPPERS and call.args and isinstance(call.args[0], ast.Call):
            self._target(owner, mod, call.args[0].func, f"background {name}", background=True)
            return
        if name in ("Thread", "Process", "Timer", "BackgroundTask"):
            node = _arg(call, 1 if name == "Timer" else 0 if name == "BackgroundTask" else 99,
                        "target", "function", "func")
            if node is not None:
                self._target(owner, mod, node, f"background {name}", background=True)
            return
        for kw in call.keywords:
            if kw.arg in ("middlewares",) and isinstance(kw.value, ast.List | ast.Tuple):
                for e in kw.value.elts:
                    self._target(owner, mod, e, "middleware")
            elif kw.arg == "exception_handlers" and isinstance(kw.value, ast.Dict):
                for v in kw.value.values:
                    self._target(owner, mod, v, "exception handler")
        s = self._sym(owner, mod, f)
        if s is not None and s.kind == "ext" and s.name in _ROUTE_CALLS:
            node = _arg(call, _ROUTE_CALLS[s.name], "endpoint", "view", "handler")
            if node is not None:
                self._target(owner, mod, node, _call_label(s.name.rsplit(".", 1)[-1], call))

    def _is_signal(self, owner: FuncInfo | None, mod: ModuleInfo, node: ast.expr) -> bool:
        """`post_save.connect(f)`, `request_finished.connect(f)`, a `Signal()` of the app."""
        s = self._sym(owner, mod, node)
        if s is None:
            return False
        if s.kind == "ext":
            return ".signals." in s.name or s.name.startswith("django.dispatch")
        if s.kind == "global" and s.module is not None:
            value = s.module.globals.get(s.name)
            return isinstance(value, ast.Call) and "Signal" in ast.unparse(value.func)
        return False

    def _depends(self, mod: ModuleInfo, node: ast.expr, owner: FuncInfo | None) -> None:
        s = self._sym(owner, mod, node)
        if s is None:
            return
        if s.kind == "func" and s.func is not None:
            if owner is not None:
                self.extra_edges.append((owner, s.func, None))
            else:
                self.add(s.func, f"Depends({s.func.name})")
        elif s.kind == "global" and s.module is not None:
            cls = self.p.class_of_kind(self.p.global_kind(s.module, s.name))
            call = self.p.find_method(cls, "__call__") if cls else None
            if call is not None:
                self.add(call, f"Depends({s.name})", self.scope.global_cell(s))
        elif s.kind == "class" and s.cls is not None:
            for m in ("__init__", "__call__"):
                meth = self.p.find_method(s.cls, m)
                if meth is not None:
                    self.add(meth, f"Depends({s.cls.name})")

    def _django(self, mod: ModuleInfo) -> None:
        last = mod.name.rsplit(".", 1)[-1]
        if last == "views" or ".views." in f".{mod.name}.":
            for fn in mod.functions.values():
                if fn.params and fn.params[0] in ("request", "req"):
                    self.add(fn, f"view {fn.name}")
        for proc in _context_processors(mod):
            mname, _, fname = proc.rpartition(".")
            target = self.p.find_module(mname, mod)
            if target is not None and fname in target.functions:
                self.add(target.functions[fname], f"context processor {fname}")
        value = mod.globals.get("MIDDLEWARE")
        if isinstance(value, ast.List | ast.Tuple):
            for e in value.elts:
                if isinstance(e, ast.Constant) and isinstance(e.value, str) and "." in e.value:
                    mname, _, cname = e.value.rpartition(".")
                    target = self.p.find_module(mname, mod)
                    if target is not None and cname in target.classes:
                        self.add_class(target.classes[cname], per_process=True)
                    elif target is not None and cname in target.functions:
                        factory = target.functions[cname]
                        for inner in factory.nested.values():
                            self.add(inner, f"middleware {cname}")


def is_test_module(mod: ModuleInfo) -> bool:
    """Test code (`tests` packages, `test_*.py`, `*_tests.py`, `conftest.py`) is never
    deployed: the receivers and views it registers serve no request."""
    parts = mod.name.split(".")
    last = mod.src.path.stem
    return any(p in ("tests", "test", "testing") for p in parts[:-1]) or last.startswith(
        "test_") or last.endswith(("_test", "_tests")) or last in ("tests", "conftest")


def _context_processors(mod: ModuleInfo) -> list[str]:
    """Dotted names in `TEMPLATES[...]["OPTIONS"]["context_processors"]` of a settings module."""
    value = mod.globals.get("TEMPLATES")
    out: list[str] = []
    if value is None:
        return out
    for n in ast.walk(value):
        if isinstance(n, ast.Dict):
            for k, v in zip(n.keys, n.values, strict=False):
                if isinstance(k, ast.Constant) and k.value == "context_processors" and \
                        isinstance(v, ast.List | ast.Tuple):
                    out.extend(e.value for e in v.elts
                               if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return out


def route_label(attr: str, call: ast.Call) -> str:
    path = ""
    if call.args and isinstance(call.args[0], ast.Constant):
        path = str(call.args[0].value)
    for kw in call.keywords:
        if kw.arg == "path" and isinstance(kw.value, ast.Constant):
            path = str(kw.value.value)
    verb = attr.upper()
    if attr in ("route", "api_route"):
        verb = "GET"
        for kw in call.keywords:
            if kw.arg == "methods" and isinstance(kw.value, ast.List | ast.Tuple | ast.Set) \
                    and kw.value.elts and isinstance(kw.value.elts[0], ast.Constant):
                verb = str(kw.value.elts[0].value).upper()
    elif attr.startswith("websocket") or attr == "api_websocket_route":
        verb = "WS"
    elif attr == "view":
        verb = "VIEW"
    return f"{verb} {path}".strip()


def _call_label(name: str, call: ast.Call) -> str:
    path = ""
    for a in call.args[:2]:
        if isinstance(a, ast.Constant) and isinstance(a.value, str) and not _is_method_str(a):
            path = a.value
            break
    verb = name.removeprefix("add_").upper() if name.startswith("add_") else name
    if name in ("path", "re_path", "url", "Route", "add_url_rule", "add_api_route", "route",
                "add_route"):
        verb = "ANY"
    if call.args and _is_method_str(call.args[0]):
        verb = str(call.args[0].value).upper()  # type: ignore[attr-defined]
    for kw in call.keywords:
        if kw.arg == "methods" and isinstance(kw.value, ast.List | ast.Tuple) and \
                kw.value.elts and isinstance(kw.value.elts[0], ast.Constant):
            verb = str(kw.value.elts[0].value).upper()
    return f"{verb} {path}".strip()


def _is_method_str(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and (
        node.value.lower() in HTTP_METHODS or node.value == "*")


def _arg(call: ast.Call, idx: int, *names: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg in names:
            return kw.value
    if len(call.args) > idx and not isinstance(call.args[idx], ast.Starred):
        return call.args[idx]
    return None
