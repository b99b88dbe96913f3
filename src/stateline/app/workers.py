"""A bounded thread pool for CPU-bound work such as resizing images.

Pillow releases the GIL while it decodes and resamples, so a few threads keep
the event loop answering other requests while a large image is resized. The
pool is bounded twice: ``workers`` threads run jobs, and at most
``queue_limit`` jobs may wait; beyond that the caller gets 503 at once instead
of queueing work that would time out anyway.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from stateline.app.errors import ApiError

T = TypeVar("T")


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class CpuPool:
    """Run blocking functions in a few threads, refusing work beyond a queue limit."""

    def __init__(self, workers: int | None = None, queue_limit: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.queue_limit = queue_limit if queue_limit is not None else self.workers * 4
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="stateline-cpu")
        self._pending = 0

    async def run(self, func: Callable[..., T], *args: object) -> T:
        if self._pending >= self.workers + self.queue_limit:
            raise ApiError(503, "busy", "too much CPU-bound work queued; retry shortly")
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, func, *args)
        finally:
            self._pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
