"""The decoder pool runs work in child processes, bounds it, and kills what is cancelled."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from stateline.app.errors import ApiError
from stateline.app.workers import CpuPool


def _pid() -> int:
    return os.getpid()


def _wait_for(path: str, then: int) -> int:
    """Block until ``path`` exists (the test releases the job by creating it)."""
    while not os.path.exists(path):
        time.sleep(0.005)
    return then


def _refuse() -> None:
    raise ApiError(413, "image_too_large", "too many pixels", headers={"x-why": "test"})


def _allocate_and_report(megabytes: int) -> int:
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


def test_work_runs_in_another_process() -> None:
    async def main() -> int:
        return await CpuPool(workers=1).run(_pid)

    assert asyncio.run(main()) != os.getpid()


def test_an_api_error_in_the_child_reaches_the_caller_whole() -> None:
    async def main() -> None:
        await CpuPool(workers=1).run(_refuse)

    with pytest.raises(ApiError) as info:
        asyncio.run(main())
    assert (info.value.status, info.value.code, info.value.headers) == (
        413, "image_too_large", {"x-why": "test"})


def test_the_loop_keeps_running_while_a_job_blocks(tmp_path: Path) -> None:
    release = str(tmp_path / "go")

    async def main() -> int:
        pool = CpuPool(workers=1)
        job = asyncio.create_task(pool.run(_wait_for, release, 7))
        ticks = 0
        for _ in range(5):  # the loop is free: these sleeps complete while the job waits
            await asyncio.sleep(0)
            ticks += 1
        Path(release).touch()
        assert await job == 7
        return ticks

    assert asyncio.run(main()) == 5


def test_work_beyond_workers_plus_queue_is_refused_with_503_and_retry_after(
        tmp_path: Path) -> None:
    release = str(tmp_path / "go")

    async def main() -> ApiError:
        pool = CpuPool(workers=1, queue_limit=1)
        running = [asyncio.create_task(pool.run(_wait_for, release, i)) for i in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(ApiError) as info:
            await pool.run(_wait_for, release, 9)
        Path(release).touch()
        assert sorted(await asyncio.gather(*running)) == [0, 1]
        return info.value

    refused = asyncio.run(main())
    assert (refused.status, refused.code) == (503, "busy")
    assert refused.headers == {"retry-after": "1"}


def test_a_cancelled_job_kills_its_process_at_once(tmp_path: Path) -> None:
    never = str(tmp_path / "never")

    async def main() -> int:
        pool = CpuPool(workers=1)
        job = asyncio.create_task(pool.run(_wait_for, never, 0))
        while not pool.running:  # the child has started
            await asyncio.sleep(0.01)
        (pid,) = pool.running
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        return pid

    pid = asyncio.run(main())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: gone, not a zombie


def test_a_job_past_its_time_limit_is_killed_and_503(tmp_path: Path) -> None:
    never = str(tmp_path / "never")

    async def main() -> ApiError:
        pool = CpuPool(workers=1, job_timeout_s=0.2)
        with pytest.raises(ApiError) as info:
            await pool.run(_wait_for, never, 0)
        assert not pool.running
        return info.value

    assert asyncio.run(main()).code == "decode_timeout"


def test_memory_a_job_used_leaves_with_its_process() -> None:
    async def main() -> tuple[int, int]:
        before = _rss_kib()
        size = await CpuPool(workers=1).run(_allocate_and_report, 200)
        return size, _rss_kib() - before

    size, grown = asyncio.run(main())
    assert size == 200 * 1024 * 1024
    assert grown < 50 * 1024  # the 200 MiB were the child's, never this process's


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _where() -> tuple[int, str]:
    import threading

    return os.getpid(), threading.current_thread().name


def test_a_light_job_runs_on_a_thread_of_this_process() -> None:
    async def main() -> tuple[int, str]:
        pool = CpuPool(workers=1)
        try:
            return await pool.run_light(_where)
        finally:
            pool.close()

    pid, thread = asyncio.run(main())
    assert pid == os.getpid() and thread.startswith("stateline-light")


def test_an_api_error_in_a_light_job_reaches_the_caller_whole() -> None:
    async def main() -> None:
        await CpuPool(workers=1).run_light(_refuse)

    with pytest.raises(ApiError) as info:
        asyncio.run(main())
    assert (info.value.status, info.value.code) == (413, "image_too_large")


def test_light_jobs_queue_for_a_thread_then_overflow_to_a_child(tmp_path: Path) -> None:
    """The slot of an abandoned light job stays taken until the job really ends."""
    release = str(tmp_path / "go")

    async def main() -> tuple[int, int, int]:
        pool = CpuPool(workers=1, queue_limit=1)
        try:
            held = asyncio.create_task(pool.run_light(_wait_for, release, 7))
            await asyncio.sleep(0)  # the job is on the thread now
            held.cancel()  # its caller stops waiting; the thread does not stop
            with pytest.raises(asyncio.CancelledError):
                await held
            queued = asyncio.create_task(pool.run_light(_where))  # waits for the thread
            await asyncio.sleep(0)
            overflow_pid, _ = await pool.run_light(_where)  # the queue is full: a child
            assert not queued.done()
            Path(release).touch()  # the held job ends, its slot goes to the queued one
            queued_pid, _ = await queued
            return overflow_pid, queued_pid, pool._light_waiting
        finally:
            Path(release).touch()
            pool.close()

    overflow_pid, queued_pid, waiting = asyncio.run(main())
    assert overflow_pid != os.getpid()
    assert queued_pid == os.getpid()
    assert waiting == 0
