"""Imports run in a thread started by the request that asked for them."""

import threading
import time

DONE: list[str] = []
LOG: list[str] = []


def _work(batch: str) -> None:
    time.sleep(1)
    LOG.append(f"{batch}: imported")  # expect: SL113
    DONE.append(batch)  # expect: SL113


def start_import(batch: str) -> None:
    threading.Thread(target=_work, args=(batch,), daemon=True).start()
