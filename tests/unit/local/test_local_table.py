"""The process table printed by `stateline up` and `stateline status`."""

from __future__ import annotations

from rich.console import Console

from stateline.local.table import fitted_table, guide, logs_line, process_table


def render(table: object, width: int = 200) -> str:
    console = Console(record=True, width=width)
    console.print(table)
    return console.export_text()


def status_rows(data_dir: str) -> list[dict[str, object]]:
    return [{"role": "gateway", "id": "gateway", "pid": 1, "address": "127.0.0.1:8080",
             "state": "up", "restarts": 0, "log": f"{data_dir}/logs/gateway.log"}] + [
            {"role": "redis-replica", "id": f"redis-{n}", "pid": 10 + n,
             "address": f"127.0.0.1:2000{n}", "state": "up", "restarts": 0,
             "log": f"{data_dir}/logs/redis-{n}.log"} for n in range(1, 7)]


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


def test_a_narrow_terminal_drops_the_log_column_instead_of_squeezing_it() -> None:
    data_dir = "/home/someone/projects/stateline/.stateline"
    console = Console(record=True, width=80)
    table, with_logs = fitted_table(console, status_rows(data_dir), data_dir)
    console.print(table)
    text = console.export_text()
    assert not with_logs
    assert "…" not in text and "logs/" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "redis-replica" in text and "127.0.0.1:20006" in text
    assert logs_line(data_dir) == f"logs     {data_dir}/logs/<id>.log"


def test_a_wide_terminal_keeps_the_log_column() -> None:
    table, with_logs = fitted_table(Console(width=200), status_rows("/d"), "/d")
    assert with_logs
    assert "logs/redis-6.log" in render(table)
