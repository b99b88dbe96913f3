"""SL111: files written by one handler under a path another handler reads.

Paths are compared by their *root*: the module constant, config key or literal
folder they are built from (`os.path.join(UPLOAD_DIR, name)` and
`send_from_directory(UPLOAD_DIR, name)` share the root `UPLOAD_DIR`). A file
written and read back inside one function is a scratch file, not a hand-off.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from stateline.lint.facts import facts_of
from stateline.lint.index import FuncInfo, ModuleInfo
from stateline.lint.resolve import Sym
from stateline.lint.scope import Scope

_OPENERS = frozenset({"builtins.open", "io.open", "aiofiles.open", "codecs.open"})
_READERS = frozenset({"send_file", "send_from_directory", "FileResponse", "static_file",
                      "listdir", "scandir", "glob", "iglob", "serve_file"})
# Not `mkdir`: a folder holds no data; the files written into it are the hand-off.
_PATH_METHODS_WRITE = frozenset({"write_bytes", "write_text", "touch"})
_PATH_METHODS_READ = frozenset({"read_bytes", "read_text", "iterdir", "exists", "glob",
                                "rglob", "stat", "is_file"})
_PASSTHROUGH = frozenset({"join", "abspath", "realpath", "normpath", "Path", "PurePath",
                          "joinpath", "with_suffix", "with_name", "resolve", "str", "fspath",
                          "expanduser", "secure_filename", "dirname"})
_NOT_FILES = ("buf", "bio", "io", "stream", "output")


@dataclass(frozen=True)
class FileOp:
    fn: FuncInfo
    node: ast.Call
    root: str
    write: bool


def _folder(path: str, is_prefix: bool) -> str:
    """The folder a literal path names: `./uploads/` → `uploads`, `uploads/a.png` →
    `uploads`; for an f-string prefix (`f"uploads/{name}"`) the part before the last /."""
    path = path.removeprefix("./")
    if is_prefix:
        return path.rsplit("/", 1)[0] if "/" in path else path
    path = path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    if "." in last and "/" in path:
        return path.rsplit("/", 1)[0]
    return path


def same_root(a: str, b: str) -> bool:
    """Equal roots, or literal folders one inside the other (`data` and `data/up`)."""
    if a == b:
        return True
    if a.startswith("lit:") and b.startswith("lit:"):
        x, y = a[4:], b[4:]
        return bool(x and y) and (x.startswith(y + "/") or y.startswith(x + "/"))
    return False


def path_root(scope: Scope, fn: FuncInfo | None, node: ast.expr | None, depth: int = 0,
              mod: ModuleInfo | None = None) -> str | None:
    """A stable name for the folder a path expression starts from, or None.
    `fn` is the function the expression is in (None: module level of `mod`)."""
    if node is None or depth > 6:
        return None
    mod = fn.module if fn is not None else mod
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return "lit:" + _folder(node.value, is_prefix=False)
    if isinstance(node, ast.JoinedStr):
        first = node.values[0] if node.values else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return "lit:" + _folder(first.value, is_prefix=True)
        if isinstance(first, ast.FormattedValue):
            return path_root(scope, fn, first.value, depth + 1, mod)
        return None
    if isinstance(node, ast.BinOp):
        return path_root(scope, fn, node.left, depth + 1, mod)
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return "key:" + key.value
        return None
    if isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else (f.id if isinstance(f, ast.Name)
                                                            else "")
        if name in ("gettempdir",):
            return "tmp"
        if name in _PASSTHROUGH:
            if isinstance(f, ast.Attribute) and name in ("joinpath", "with_suffix", "with_name",
                                                          "resolve", "expanduser"):
                return path_root(scope, fn, f.value, depth + 1, mod)
            return path_root(scope, fn, node.args[0], depth + 1, mod) if node.args else None
        return None
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.attr.isupper():
            return "attr:" + node.attr
        return None
    if isinstance(node, ast.Name):
        if fn is not None:
            kind, a, b = scope.lookup(fn, node.id, node.lineno)
            if kind == "local" and isinstance(a, ast.expr):
                return path_root(scope, fn, a, depth + 1)
            if kind == "closure" and isinstance(b, ast.expr) and isinstance(a, FuncInfo):
                return path_root(scope, a, b, depth + 1)
            sym = a if kind == "sym" and isinstance(a, Sym) else None
        else:
            sym = scope.p.symbol(mod, node.id) if mod is not None else None
        if sym is not None and sym.kind == "global" and sym.module is not None:
            # A folder constant (`UPLOAD_DIR = Path("uploads")`) names its literal.
            value = sym.module.globals.get(sym.name)
            if isinstance(value, ast.Constant | ast.JoinedStr | ast.Call | ast.BinOp):
                lit = path_root(scope, None, value, depth + 1, sym.module)
                if lit is not None:
                    return lit
            return f"g:{sym.module.name}.{sym.name}"
    return None


def file_ops(scope: Scope, fn: FuncInfo) -> list[FileOp]:
    out: list[FileOp] = []
    for call in facts_of(fn).calls:
        f = call.func
        line = call.lineno
        if isinstance(f, ast.Name | ast.Attribute):
            dotted = scope.dotted(fn, f, line)
            if dotted in _OPENERS and call.args:
                mode = call.args[1] if len(call.args) > 1 else next(
                    (k.value for k in call.keywords if k.arg == "mode"), None)
                m = mode.value if isinstance(mode, ast.Constant) else "r"
                write = any(c in str(m) for c in "wax")
                _add(out, scope, fn, call, call.args[0], write)
                continue
        if not isinstance(f, ast.Attribute):
            if isinstance(f, ast.Name) and f.id in _READERS and call.args:
                _add(out, scope, fn, call, call.args[0], False)
            continue
        name = f.attr
        if name in _PATH_METHODS_WRITE:
            _add(out, scope, fn, call, f.value, True)
        elif name in _PATH_METHODS_READ:
            _add(out, scope, fn, call, f.value, False)
        elif name == "open" and (not call.args or isinstance(call.args[0], ast.Constant)):
            mode = call.args[0].value if call.args else "r"  # type: ignore[attr-defined]
            _add(out, scope, fn, call, f.value, any(c in str(mode) for c in "wax"))
        elif name == "save" and call.args:
            receiver = ast.unparse(f.value).lower()
            if not any(t in receiver for t in ("img", "image", "pdf", "wb", "doc")):
                _add(out, scope, fn, call, call.args[0], True)
        elif name in ("copy", "copyfile", "move", "copy2") and len(call.args) >= 2:
            if scope.dotted(fn, f, line).startswith("shutil."):
                _add(out, scope, fn, call, call.args[1], True)
        elif name in _READERS and call.args:
            _add(out, scope, fn, call, call.args[0], False)
    return out


def _add(out: list[FileOp], scope: Scope, fn: FuncInfo, call: ast.Call, path: ast.expr,
         write: bool) -> None:
    if isinstance(path, ast.Name) and path.id.lower().startswith(_NOT_FILES):
        return
    root = path_root(scope, fn, path)
    if root is not None:
        out.append(FileOp(fn, call, root, write))


def static_mounts(scope: Scope, modules: list[ModuleInfo]) -> list[str]:
    """Roots served by `StaticFiles(directory=...)` / `web.static(prefix, path)` mounts."""
    roots: list[str] = []
    for mod in modules:
        for call, _owner in mod.calls:
            f = call.func
            name = f.attr if isinstance(f, ast.Attribute) else (
                f.id if isinstance(f, ast.Name) else "")
            if name == "StaticFiles":
                arg = next((k.value for k in call.keywords if k.arg == "directory"), None)
            elif name in ("static", "add_static") and len(call.args) >= 2:
                arg = call.args[1]
            else:
                continue
            root = path_root(scope, None, arg, mod=mod)
            if root is not None:
                roots.append(root)
    return roots


def handoffs(scope: Scope, funcs: list[FuncInfo], modules: list[ModuleInfo]) -> list[FileOp]:
    """Writes whose root is read by a different request-reachable function or served
    by a static-files mount."""
    ops = [op for fn in funcs for op in file_ops(scope, fn)]
    readers: list[tuple[str, int]] = [(op.root, id(op.fn)) for op in ops if not op.write]
    readers.extend((root, 0) for root in static_mounts(scope, modules))
    return [op for op in ops if op.write and any(
        same_root(op.root, root) and fid != id(op.fn) for root, fid in readers)]
