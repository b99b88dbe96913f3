"""SL111, second form: a temp file's path handed to a task queue's worker.

A handler streams an upload into `tempfile.NamedTemporaryFile(delete=False)` (or a
`mkstemp()`/`mkdtemp()`/`gettempdir()`/`/tmp/...` path) and enqueues a job with that path:
`process.delay(path)`, `queue.enqueue(f, path)`, `docket.add(task)(file_path=path)`,
or a job record built with it (`ctx = Upload(file_path=path); schedule(ctx)` where
`schedule` enqueues). The worker that picks the job may run on another machine,
whose /tmp does not have the file: it works on one box and fails behind replicas.

Only temp paths count: a project folder (`UPLOAD_DIR`) may be a volume shared
with the workers, and one handler reading another's files from it is the first
form (`disk.py`). Hand-offs that stay in the process (FastAPI `BackgroundTasks`,
`asyncio.create_task`, a thread pool) are not queues and stay silent.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo
from stateline.lint.scope import Scope

_TEMP_FILES = frozenset({"tempfile.NamedTemporaryFile", "tempfile.mkstemp"})
_TEMP_DIRS = frozenset({"tempfile.mkdtemp", "tempfile.gettempdir", "tempfile.mktemp"})
# calls on a task (project function) that enqueue it: celery, dramatiq, rq, taskiq, procrastinate
_TASK_METHODS = frozenset({"delay", "apply_async", "send_with_options", "kiq", "defer",
                           "defer_async", "s", "si"})
# calls on a queue object that enqueue a job
_QUEUE_METHODS = frozenset({"enqueue", "enqueue_call", "enqueue_in", "enqueue_at",
                            "enqueue_job", "send_task", "add_job"})
# `docket.add(task)(...)`, `queue.enqueue(task)(...)`: a call of what these return
_CURRIED = frozenset({"add", "enqueue", "schedule"})
_WRITERS = frozenset({"write", "writelines"})


@dataclass(frozen=True)
class TempHandoff:
    fn: FuncInfo
    node: ast.Call  # the write into the temp file
    path: str  # the local name holding its path


def _enqueue_args(call: ast.Call, scope: Scope, fn: FuncInfo) -> list[ast.expr] | None:
    """The arguments of `call` when it enqueues a job, else None."""
    f = call.func
    if isinstance(f, ast.Call) and isinstance(f.func, ast.Attribute) and \
            f.func.attr in _CURRIED:
        return [*call.args, *(k.value for k in call.keywords)]
    if not isinstance(f, ast.Attribute):
        return None
    args = [*call.args, *(k.value for k in call.keywords)]
    if f.attr in _QUEUE_METHODS:
        return args
    if f.attr in _TASK_METHODS or f.attr == "send":
        s = scope.sym(fn, f.value, call.lineno)
        if s is not None and s.kind == "func":
            return args  # `process_upload.delay(path)`: a project function's queue method
    return None


def _mentions(node: ast.expr, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _enqueues_param(scope: Scope, fn: FuncInfo, depth: int = 0) -> set[int]:
    """Indexes of `fn`'s parameters that reach an enqueue call's arguments."""
    out: set[int] = set()
    params = list(fn.params)
    for call in facts_of(fn).calls:
        args = _enqueue_args(call, scope, fn)
        if args is None:
            continue
        for i, p in enumerate(params):
            if any(_mentions(a, {p}) for a in args):
                out.add(i)
    return out


def _temp_paths(scope: Scope, fn: FuncInfo) -> tuple[dict[str, str], set[str]]:
    """Handles of temp files (`with NamedTemporaryFile(delete=False) as h`) → the name
    of their path, and names holding a temp path."""
    handles: dict[str, str] = {}
    paths: set[str] = set()
    f = facts_of(fn)
    for ctx, _stmt in f.withs:
        if isinstance(ctx, ast.Call) and _is_temp_file(scope, fn, ctx):
            for item in getattr(_stmt, "items", ()):
                if item.context_expr is ctx and isinstance(item.optional_vars, ast.Name):
                    handles[item.optional_vars.id] = ""
    for name, binds in f.assigns.items():
        for _line, value in binds:
            if value is None:
                continue
            if isinstance(value, ast.Attribute) and value.attr == "name" and \
                    isinstance(value.value, ast.Name) and value.value.id in handles:
                handles[value.value.id] = name
                paths.add(name)
            elif _temp_path_expr(scope, fn, value, paths):
                paths.add(name)
    return handles, paths


def _is_temp_file(scope: Scope, fn: FuncInfo, call: ast.Call) -> bool:
    if scope.dotted(fn, call.func, call.lineno) != "tempfile.NamedTemporaryFile":
        return False
    return any(k.arg == "delete" and isinstance(k.value, ast.Constant) and
               k.value.value is False for k in call.keywords)


def _temp_path_expr(scope: Scope, fn: FuncInfo, node: ast.expr, paths: set[str]) -> bool:
    """`mkdtemp()`, `os.path.join(gettempdir(), x)`, `Path(tmpdir) / x`, `mkstemp()[1]`."""
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and scope.dotted(fn, n.func, n.lineno) in (
                _TEMP_DIRS | _TEMP_FILES) - {"tempfile.NamedTemporaryFile"}:
            return True
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and (
                n.value == "/tmp" or n.value.startswith("/tmp/")):
            return True  # `f"/tmp/{name}"`, `os.path.join("/tmp", name)`
        if isinstance(n, ast.Name) and n.id in paths and n is not node:
            return True
    return isinstance(node, ast.Name) and node.id in paths


def _open_handles(scope: Scope, fn: FuncInfo, paths: set[str]) -> dict[str, str]:
    """`with open(p, "wb") as h` (builtins/aiofiles) on a temp path → {h: p}."""
    out: dict[str, str] = {}
    for ctx, stmt in facts_of(fn).withs:
        if not (isinstance(ctx, ast.Call) and ctx.args and isinstance(ctx.args[0], ast.Name)
                and ctx.args[0].id in paths):
            continue
        name = scope.dotted(fn, ctx.func, ctx.lineno)
        if name not in ("builtins.open", "aiofiles.open", "io.open"):
            continue
        mode = ctx.args[1] if len(ctx.args) > 1 else next(
            (k.value for k in ctx.keywords if k.arg == "mode"), None)
        if not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)
                and any(c in mode.value for c in "wax")):
            continue
        for item in getattr(stmt, "items", ()):
            if item.context_expr is ctx and isinstance(item.optional_vars, ast.Name):
                out[item.optional_vars.id] = ctx.args[0].id
    return out


def _handed_to_queue(scope: Scope, fn: FuncInfo, path: str) -> bool:
    """Whether the path (or a record built with it) reaches an enqueue, directly or
    through a project function that enqueues the argument."""
    carriers = {path}
    f = facts_of(fn)
    for name, binds in f.assigns.items():
        for _line, value in binds:
            if isinstance(value, ast.Call) and any(
                    _mentions(a, {path}) for a in [*value.args,
                                                   *(k.value for k in value.keywords)]):
                carriers.add(name)  # `ctx = UploadContext(file_path=path)`
    for call in f.calls:
        args = _enqueue_args(call, scope, fn)
        if args is not None:
            if any(_mentions(a, carriers) for a in args):
                return True
            continue
        s = scope.sym(fn, call.func, call.lineno)
        if s is None or s.kind != "func" or s.func is None or s.func is fn:
            continue
        params = list(s.func.params)
        offset = 1 if params and params[0] in ("self", "cls") else 0
        hits = _enqueues_param(scope, s.func)
        if not hits:
            continue
        for i, a in enumerate(call.args):
            if i + offset in hits and _mentions(a, carriers):
                return True
        for k in call.keywords:
            if k.arg in params and params.index(k.arg) in hits and _mentions(k.value, carriers):
                return True
    return False


def temp_handoffs(scope: Scope, funcs: list[FuncInfo]) -> list[TempHandoff]:
    """Writes into a temp file whose path a request hands to a task queue."""
    out: list[TempHandoff] = []
    for fn in funcs:
        text = fn.module.src.text
        if "tempfile" not in text and "mkdtemp" not in text:
            continue
        handles, paths = _temp_paths(scope, fn)
        if not paths and not handles:
            continue
        # a handle whose path is never named is handed on as `tmp.name`
        handles = {h: p or h for h, p in handles.items()}
        handles.update(_open_handles(scope, fn, paths))
        queued = {p for p in set(handles.values()) | paths if _handed_to_queue(scope, fn, p)}
        if not queued:
            continue
        for call in facts_of(fn).calls:
            c = call.func
            if isinstance(c, ast.Attribute) and c.attr in _WRITERS and \
                    isinstance(c.value, ast.Name) and handles.get(c.value.id) in queued:
                out.append(TempHandoff(fn, call, handles[c.value.id]))
                continue
            written = _written_path(scope, fn, call, handles)
            if written in queued:
                out.append(TempHandoff(fn, call, written))
    return out


def _written_path(scope: Scope, fn: FuncInfo, call: ast.Call, handles: dict[str, str]) -> str:
    """The local path name a call writes a file to: `upload.save(p)`,
    `Path(p).write_bytes(b)`, `shutil.copyfileobj(src, h)`, `shutil.copy(src, p)`."""
    c = call.func
    if not isinstance(c, ast.Attribute):
        return ""
    if c.attr == "save" and call.args and isinstance(call.args[0], ast.Name):
        return call.args[0].id  # werkzeug/Django upload objects: `.save(dst)`
    if c.attr in ("write_bytes", "write_text"):
        inner = c.value
        if isinstance(inner, ast.Call) and inner.args:
            inner = inner.args[0]  # `Path(p).write_bytes(...)`
        return inner.id if isinstance(inner, ast.Name) else ""
    name = scope.dotted(fn, c, call.lineno)
    if name == "shutil.copyfileobj" and len(call.args) >= 2 and \
            isinstance(call.args[1], ast.Name):
        return handles.get(call.args[1].id, "")
    if name in ("shutil.copy", "shutil.copyfile", "shutil.copy2", "shutil.move") and \
            len(call.args) >= 2 and isinstance(call.args[1], ast.Name):
        return call.args[1].id
    return ""
