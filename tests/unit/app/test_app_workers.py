"""The CPU pool runs blocking work off the event loop and refuses work beyond its bound."""

from __future__ import annotations

import asyncio
import threading

import pytest

from stateline.app.errors import ApiError
from stateline.app.workers import CpuPool


def test_work_runs_in_a_pool_thread_not_on_the_loop() -> None:
    async def main() -> tuple[str, str]:
        pool = CpuPool(workers=1)
        try:
            return threading.current_thread().name, await pool.run(
                lambda: threading.current_thread().name)
        finally:
            pool.close()

    loop_thread, worker_thread = asyncio.run(main())
    assert worker_thread != loop_thread
    assert worker_thread.startswith("stateline-cpu")


def test_the_loop_keeps_running_while_a_job_blocks() -> None:
    async def main() -> int:
        pool = CpuPool(workers=1)
        release = threading.Event()
        try:
            job = asyncio.create_task(pool.run(release.wait, 5))
            ticks = 0
            for _ in range(5):  # the loop is free: these sleeps complete while the job waits
                await asyncio.sleep(0)
                ticks += 1
            release.set()
            await job
            return ticks
        finally:
            pool.close()

    assert asyncio.run(main()) == 5


def test_work_beyond_workers_plus_queue_is_refused_with_503() -> None:
    async def main() -> ApiError:
        pool = CpuPool(workers=1, queue_limit=1)
        release = threading.Event()
        try:
            running = [asyncio.create_task(pool.run(release.wait, 5)) for _ in range(2)]
            await asyncio.sleep(0)
            with pytest.raises(ApiError) as info:
                await pool.run(release.wait, 5)
            release.set()
            await asyncio.gather(*running)
            return info.value
        finally:
            pool.close()

    refused = asyncio.run(main())
    assert (refused.status, refused.code) == (503, "busy")
