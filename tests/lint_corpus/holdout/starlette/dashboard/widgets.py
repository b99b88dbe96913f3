"""Widget definitions, shared by the routes."""

import time

WIDGETS: dict[str, dict] = {
    "cpu": {"name": "cpu", "query": "rate(cpu_seconds_total[1m])"},  # trap: filled at import
}
LAST_TOUCHED: dict[str, float] = {}


def touch(name: str) -> None:
    LAST_TOUCHED[name] = time.time()  # expect: SL102
