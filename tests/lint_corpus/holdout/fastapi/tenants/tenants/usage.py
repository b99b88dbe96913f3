"""Usage sampling in a background thread started at start-up."""

import threading
import time

from . import state

_started = threading.Event()


def _collect_forever() -> None:
    while True:
        for tenant, record in list(state.TENANTS.items()):
            state.USAGE_SAMPLES.append((tenant, record.get("seats", 0)))  # expect: SL113
        time.sleep(10)


def start_collector() -> None:
    if not _started.is_set():
        _started.set()  # trap: start-up only
        threading.Thread(target=_collect_forever, daemon=True).start()
