"""A bounded pool of decoder processes for CPU-bound work such as resizing images.

Why processes and not threads: a 7000x7000 PNG of 143 KB costs two seconds of
CPU and hundreds of megabytes; in a thread, that memory stays with the
instance afterwards (the allocator keeps it), and work whose client has gone
cannot be stopped. Here every job runs in a fresh child forked from a
forkserver that has already imported Pillow (a fork costs milliseconds), so:

- **the job can be stopped**: cancelling :meth:`CpuPool.run` (the client hung
  up, or the job ran past ``job_timeout_s``) kills the child at once;
- **memory goes back**: the decoded pixels live in the child and leave with it;
- **work is bounded twice**: at most ``workers`` children run at once and at
  most ``queue_limit`` jobs wait; beyond that the caller gets 503 ``busy``
  with ``Retry-After`` at once, instead of queueing work that would time out.

Small jobs need none of that, and a fork costs about 25 ms against a few ms of
work, so :meth:`CpuPool.run_light` runs a job the caller knows is small (a still
image of at most a megapixel) on one of ``workers`` threads instead; it goes to a
child only when ``queue_limit`` light jobs are already waiting for a thread. Such
a job is not killed when its client leaves; it is bounded by its size instead, and
its thread slot is freed only when it really ends, so abandoned jobs cannot pile up.

The function and its arguments must be picklable (module-level functions); an
:class:`~stateline.app.errors.ApiError` raised in the child reaches the caller.
The result comes back over a pipe the parent reads asynchronously, so the
event loop never blocks on a child.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from stateline.app.errors import ApiError

T = TypeVar("T")

#: Modules the forkserver imports once, so each child starts with them loaded.
PRELOAD = ["stateline.app.imaging"]
DEFAULT_JOB_TIMEOUT_S = 25.0
RETRY_AFTER_S = 1

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _die_with_parent() -> None:
    """Linux: SIGKILL this child when its parent (the forkserver) dies.

    The forkserver exits when the instance does (its pipe to the instance
    closes), so a killed instance leaves no decoder running for nobody.
    """
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _child(sender: Connection, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """In the child: run ``func``, write the pickled outcome to the pipe, exit."""
    _die_with_parent()
    try:
        outcome: tuple[str, Any] = ("ok", func(*args))
    except BaseException as exc:  # every failure goes back to the parent, which re-raises
        outcome = ("error", exc)
    try:
        payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an unpicklable exception: send its words instead
        payload = pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    view = memoryview(payload)
    fd = sender.fileno()
    while view:
        view = view[os.write(fd, view):]


class _Collect(asyncio.Protocol):
    """Gathers everything the child writes; ``done`` resolves at end of file."""

    def __init__(self, done: asyncio.Future[bytes]) -> None:
        self.done = done
        self.chunks: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(b"".join(self.chunks))


class CpuPool:
    """Run picklable functions in short-lived child processes, a bounded number at once."""

    def __init__(self, workers: int | None = None, queue_limit: int | None = None,
                 job_timeout_s: float = DEFAULT_JOB_TIMEOUT_S) -> None:
        self.workers = workers or default_workers()
        self.queue_limit = queue_limit if queue_limit is not None else self.workers * 2
        self.job_timeout_s = job_timeout_s
        self._slots = asyncio.Semaphore(self.workers)
        self._pending = 0
        self.running: set[int] = set()  # pids of the live children, for tests and metrics
        self._light_slots = asyncio.Semaphore(self.workers)
        self._light_waiting = 0
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="stateline-light")

    @staticmethod
    def warm_up() -> None:
        """Start the forkserver now (it imports Pillow once), not on the first request."""
        from multiprocessing import forkserver

        forkserver.ensure_running()

    async def run(self, func: Callable[..., T], *args: object) -> T:
        if self._pending >= self.workers + self.queue_limit:
            raise ApiError(503, "busy", "too many images are being decoded; retry shortly",
                           headers={"retry-after": str(RETRY_AFTER_S)})
        self._pending += 1
        try:
            async with self._slots:
                return await self._in_child(func, args)
        finally:
            self._pending -= 1

    async def run_light(self, func: Callable[..., T], *args: object) -> T:
        """Run a job known to be small on a thread; in a child (:meth:`run`) past the queue.

        A light job waits for one of ``workers`` threads (they free up in
        milliseconds); only when ``queue_limit`` light jobs are already waiting does
        it go to a decoder process, which has its own bound and its 503.
        """
        if self._light_slots.locked() and self._light_waiting >= self.queue_limit:
            return await self.run(func, *args)
        self._light_waiting += 1
        try:
            await self._light_slots.acquire()
        finally:
            self._light_waiting -= 1
        loop = asyncio.get_running_loop()
        done: Future[T] = self._threads.submit(functools.partial(func, *args))
        # The slot comes back when the job ends, not when its caller stops waiting; the
        # callback runs on the job's thread, so the semaphore is released on the loop's.
        done.add_done_callback(lambda _: loop.call_soon_threadsafe(self._light_slots.release))
        return await asyncio.shield(asyncio.wrap_future(done, loop=loop))

    async def _in_child(self, func: Callable[..., T], args: tuple[Any, ...]) -> T:
        loop = asyncio.get_running_loop()
        receiver, sender = _CONTEXT.Pipe(duplex=False)
        proc = _CONTEXT.Process(target=_child, args=(sender, func, args), daemon=True,
                                name="stateline-decoder")
        transport: asyncio.BaseTransport | None = None
        try:
            proc.start()
            sender.close()
            assert proc.pid is not None
            self.running.add(proc.pid)
            done: asyncio.Future[bytes] = loop.create_future()
            transport, _ = await loop.connect_read_pipe(lambda: _Collect(done), receiver)
            try:
                payload = await asyncio.wait_for(done, self.job_timeout_s)
            except TimeoutError:
                raise ApiError(503, "decode_timeout",
                               f"the image took over {self.job_timeout_s:g} s to process",
                               headers={"retry-after": str(RETRY_AFTER_S)}) from None
        finally:
            if proc.pid is not None:
                self.running.discard(proc.pid)
                if proc.exitcode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGKILL)
                await asyncio.shield(loop.run_in_executor(None, proc.join))
            if transport is not None:
                transport.close()
            else:
                receiver.close()
            if not sender.closed:
                sender.close()
        if not payload:  # killed from outside (the OOM killer) or crashed in C
            raise ApiError(503, "decoder_failed", "the image decoder stopped; retry shortly",
                           headers={"retry-after": str(RETRY_AFTER_S)})
        status, value = pickle.loads(payload)
        if status == "error":
            raise value
        result: T = value
        return result

    def close(self) -> None:
        """Children exist only while a job runs, and jobs are cancelled; let the threads go."""
        self._threads.shutdown(wait=False)
