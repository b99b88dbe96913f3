"""The process table printed by `stateline up` and `stateline status`."""

from __future__ import annotations

from rich.console import Console

from stateline.local.table import guide, process_table


def render(table: object) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


def test_rows_are_ordered_gateway_apps_then_redis_with_logs_relative_to_the_data_dir() -> None:
    rows = [
        {"role": "redis-replica", "id": "redis-4", "pid": 14, "address": "127.0.0.1:4",
         "state": "up", "restarts": 0, "log": "/d/logs/redis-4.log"},
        {"role": "app", "id": "app-10", "pid": 20, "address": "127.0.0.1:20", "state": "up",
         "restarts": 0, "log": "/d/logs/app-10.log"},
        {"role": "app", "id": "app-2", "pid": None, "address": "127.0.0.1:2",
         "state": "backoff", "restarts": 3, "log": "/d/logs/app-2.log"},
        {"role": "gateway", "id": "gateway", "pid": 1, "address": "127.0.0.1:8080",
         "state": "up", "restarts": 0, "log": "/d/logs/gateway.log"},
        {"role": "redis-master", "id": "redis-1", "pid": 11, "address": "127.0.0.1:1",
         "state": "up", "restarts": 1, "log": "/d/logs/redis-1.log"},
    ]
    text = render(process_table(rows, "/d"))
    order = [text.index(i) for i in ("gateway ", "app-2 ", "app-10 ", "redis-1 ", "redis-4 ")]
    assert order == sorted(order)
    assert "logs/app-2.log" in text and "/d/logs" not in text
    app2 = next(line for line in text.splitlines() if "app-2 " in line)
    assert " - " in app2 and "backoff" in app2  # no pid while down


def test_guide_names_the_gateway_and_the_data_dir_flag_only_when_needed() -> None:
    status = {"gateway_url": "http://127.0.0.1:8080", "redis_url": "r", "database_url": "d"}
    assert "curl -i 'http://127.0.0.1:8080/api/calc/add?a=2&b=3'" in guide(status, ".stateline")
    assert "--data-dir" not in guide(status, ".stateline")
    assert "stateline down --data-dir /tmp/x" in guide(status, "/tmp/x")
