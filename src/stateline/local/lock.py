"""One supervisor per data dir, enforced by an advisory lock the kernel releases for us.

``flock`` on ``DATA_DIR/supervisor.lock`` is held for the supervisor's whole
life. The kernel drops it when the process dies, however it dies, so a stale
lock file can never block a later ``stateline up`` (a pid file alone could).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DataDirBusy(RuntimeError):
    """Another live supervisor holds the data dir."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "supervisor.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataDirBusy(
                f"a supervisor (pid {holder}) is already running on {self.path.parent}; "
                "see it with `stateline status`, stop it with `stateline down`"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
