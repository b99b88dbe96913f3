""""Only once" flags: `if over and not self._alert_sent: notify(); self._alert_sent = True`.

The shape looks like lazy initialisation (the attribute is tested before it is
written, so `write_sites.memo_write` takes it for a memo), but what it guards is
an action with an effect outside the process: an alert mailed, a warning pushed to
users, a webhook fired. On a long-lived instance (a module singleton, an
`lru_cache`d factory's product) every replica keeps its own flag, so the action
happens once per replica, not once. Telling it from lazy creation:

- the flag is named for an action done (`sent`, `notified`, `alerted`, `emitted`, ...);
- it is set to a plain value (`True`, a timestamp, a month key), never to a call's
  result (that is creating something: `if not self._client: self._client = make()`);
- the guarded body does something else first that is not logging (a warning logged
  once per process is harmless).
"""

from __future__ import annotations

import ast
import re

_ACTION = re.compile(r"sent|notif|alert|emailed|mailed|paged|announc|emitted|fired|warned"
                     r"|reported|broadcast|published", re.IGNORECASE)
_LOGGING = frozenset({"log", "logger", "logging", "_log", "_logger", "warnings", "print",
                      "structlog", "LOG", "LOGGER", "console"})


def _plain(value: ast.expr | None) -> bool:
    """A value that records that something happened, not a made object."""
    if isinstance(value, ast.Constant):
        return bool(value.value)
    return isinstance(value, ast.Name | ast.Attribute | ast.Tuple | ast.JoinedStr | ast.BinOp)


def _tests_unset(test: ast.expr, target: str) -> bool:
    """`not self.x`, `self.x is None` (also inside `and`)."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_tests_unset(v, target) for v in test.values)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return ast.unparse(test.operand) == target
    return (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Is) and ast.unparse(test.left) == target
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None)


def _root(func: ast.expr) -> str:
    while isinstance(func, ast.Attribute | ast.Call):
        func = func.value if isinstance(func, ast.Attribute) else func.func
    return func.id if isinstance(func, ast.Name) else ""


def _acts(stmts: list[ast.stmt], before: int) -> bool:
    """A call other than logging among the statements before line `before`."""
    for s in stmts:
        if s.lineno >= before:
            break
        for n in ast.walk(s):
            if isinstance(n, ast.Call) and _root(n.func) not in _LOGGING:
                return True
    return False


def once_flag(fn_node: ast.AST, target: str, line: int) -> bool:
    """Whether the assignment to `target` (`self._x`) at `line` sets an "only once"
    flag: inside an `if` testing the flag unset, after a non-logging action."""
    attr = target.rsplit(".", 1)[-1]
    if not _ACTION.search(attr):
        return False
    for n in ast.walk(fn_node):
        if not isinstance(n, ast.If) or not _tests_unset(n.test, target):
            continue
        for s in n.body:
            if isinstance(s, ast.Assign) and s.lineno == line and _plain(s.value) and any(
                    ast.unparse(t) == target for t in s.targets):
                return _acts(n.body, line)
    return False
