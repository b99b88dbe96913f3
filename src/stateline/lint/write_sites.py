"""What one write site tells about itself, read from its function's body.

The summaries (summaries.py) ask these questions of each write they record: is
it `n += 1` on a counter handed out as an id, is the value a WebSocket, is the
key a session id, is it a memo (`if self.cache is not None: return self.cache`),
does the function only remove entries. Pure functions of the syntax, so the
fixed-point solver stays about propagation.
"""

from __future__ import annotations

import ast

from stateline.lint.facts import Facts, facts_of
from stateline.lint.index import FuncInfo
from stateline.lint.values import REMOVERS

_WS_NAMES = frozenset({"websocket", "ws", "socket", "sock", "client_ws", "connection", "conn"})


def memo_write(f: Facts, name: str, line: int) -> bool:
    """`self.cache` written as a memo: tested in an `if` before the write, or tested
    anywhere and handed back (`if self.cache is not None: return self.cache`). A test
    after the write that never returns it (`if self.x is None: raise`) is no memo."""
    first = f.memo.get(name)
    if first is None:
        return False
    return first <= line or any(ast.unparse(r) == name for r in f.returns)


def removes(fn: FuncInfo) -> bool:
    """Whether `fn` deletes an item or calls a remover (`.pop()`, `.remove()`...)."""
    f = facts_of(fn)
    return any(w.how == "del" for w in f.writes) or any(
        isinstance(c.func, ast.Attribute) and c.func.attr in REMOVERS for c in f.calls)


def increment(w: object) -> str:
    """"+1" when a rebind counts upwards (`n += 1`, `n = n + 1`)."""
    value = getattr(w, "value", None)
    how = getattr(w, "how", "")
    if how == "aug" and isinstance(value, ast.Constant) and value.value == 1:
        return "+1"
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add) and isinstance(
            value.right, ast.Constant) and value.right.value == 1:
        return "+1"
    return ""


def is_id_name(name: str) -> bool:
    low = name.lower()
    return low in ("id", "pk") or (low.endswith(("_id", "id")) and len(low) <= 12)


def used_as_id(fn: FuncInfo, name: str) -> bool:
    """`{"id": n}`, `Order(id=n)`, `order_id = n`: the counter hands out identifiers."""
    for n in ast.walk(fn.node):
        if isinstance(n, ast.Dict):
            for k, v in zip(n.keys, n.values, strict=False):
                if isinstance(k, ast.Constant) and isinstance(k.value, str) and \
                        is_id_name(k.value) and isinstance(v, ast.Name) and v.id == name:
                    return True
        elif isinstance(n, ast.keyword):
            if n.arg and is_id_name(n.arg) and isinstance(n.value, ast.Name) and \
                    n.value.id == name:
                return True
        elif (isinstance(n, ast.Assign) and isinstance(n.value, ast.Name)
              and n.value.id == name
              and any(isinstance(t, ast.Name) and is_id_name(t.id) for t in n.targets)):
            return True
    return False


def is_ws(fn: FuncInfo, node: ast.expr | None) -> bool:
    """A WebSocket connection: a parameter/local named or annotated as one."""
    if isinstance(node, ast.Tuple):
        return any(is_ws(fn, e) for e in node.elts)
    if not isinstance(node, ast.Name):
        return False
    if node.id in _WS_NAMES:
        return True
    a = fn.node.args
    for p in (*a.posonlyargs, *a.args, *a.kwonlyargs):
        if p.arg == node.id and p.annotation is not None and "WebSocket" in ast.unparse(
                p.annotation):
            return True
    for _, value in facts_of(fn).assigns.get(node.id, ()):
        if isinstance(value, ast.Call) and "WebSocket" in ast.unparse(value.func):
            return True
    return False


def lazy_init_between(fn: FuncInfo, start: int, end: int) -> bool:
    """Double-checked locking around `if _x is None: _x = make()`: lazy creation."""
    f = facts_of(fn)
    return any(start <= g[1] <= end and g[0] in f.globals_decl for g in f.guards)


_SESSION_KEYS = frozenset({"sid", "session_id", "session_key", "sess_id", "session_token",
                           "sessionid", "sess"})


def session_key(fn: FuncInfo, key: ast.expr | None, depth: int = 0) -> bool:
    """An item key that is a session id: named like one, or read from a cookie."""
    if key is None or depth > 3:
        return False
    if isinstance(key, ast.Name):
        if key.id.lower() in _SESSION_KEYS:
            return True
        for call in facts_of(fn).calls:  # `resp.set_cookie("sid", token)`: a session id
            if isinstance(call.func, ast.Attribute) and call.func.attr == "set_cookie" and any(
                    isinstance(a, ast.Name) and a.id == key.id
                    for a in (*call.args, *(k.value for k in call.keywords))):
                return True
        return any(session_key(fn, v, depth + 1)
                   for _, v in facts_of(fn).assigns.get(key.id, ()) if v is not None)
    return "cookie" in ast.unparse(key).lower()


def del_ws(fn: FuncInfo, w: object) -> bool:
    node = getattr(w, "node", None)
    if isinstance(node, ast.Delete):
        for t in node.targets:
            if isinstance(t, ast.Subscript) and is_ws(fn, t.slice):
                return True
    return False
