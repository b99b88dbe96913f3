"""``status --watch`` off a terminal: one line per change between two status answers."""

from __future__ import annotations

from stateline.local.live import by_id, changes


def _row(ident: str, state: str = "up", pid: int | None = 10, role: str = "app") -> dict:
    return {"id": ident, "state": state, "pid": pid, "role": role}


def test_no_change_no_line() -> None:
    rows = [_row("app-1"), _row("gateway", role="gateway")]
    assert changes(by_id(rows), rows) == []


def test_state_pid_role_appear_and_gone() -> None:
    before = by_id([_row("app-1"), _row("app-2"), _row("redis-1", role="redis-replica")])
    after = [_row("app-1", "backoff", None), _row("redis-1", pid=10, role="redis-master"),
             _row("app-3", "starting", 33)]
    assert changes(before, after) == [
        "app-1 up -> backoff",
        "redis-1 role redis-replica -> redis-master",
        "app-3 appeared (app, starting, pid 33)",
        "app-2 gone",
    ]


def test_a_new_pid_is_shown() -> None:
    assert changes(by_id([_row("app-1", pid=1)]), [_row("app-1", pid=2)]) == ["app-1 pid 2"]
