"""One supervisor per data dir, enforced by an advisory lock the kernel releases for us.

``flock`` on ``DATA_DIR/supervisor.lock`` is held for the supervisor's whole
life. The kernel drops it when the process dies, however it dies, so a stale
lock file can never block a later ``stateline up`` (a pid file alone could).

Only the owner may open it: it lives in the 0700 data dir, is opened 0600 and
never through a symbolic link. A lock file some other user could open before
(an older 0755 data dir) may still be held by them through a descriptor opened
back then; a lock held by a process of another user is therefore not obeyed:
the file is replaced by a new one (the kernel tells who holds a lock, in
``/proc/locks``), which that descriptor no longer names.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from stateline.local.private import ensure_private_dir, open_private


class DataDirBusy(RuntimeError):
    """Another live supervisor holds the data dir."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "supervisor.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        ensure_private_dir(self.path.parent)
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if _held_by_someone_else(fd):
                os.close(fd)
                self.path.unlink()
                fd = self._open()
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new inode: nobody holds it
            else:
                self._busy(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def _open(self) -> int:
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        if os.fstat(fd).st_uid != os.geteuid():  # made by another user while the dir was open
            os.close(fd)
            self.path.unlink()
            fd = open_private(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        return fd

    def _busy(self, fd: int) -> None:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise DataDirBusy(
            f"a supervisor (pid {holder}) is already running on {self.path.parent}; "
            "see it with `stateline status`, stop it with `stateline down`"
        ) from None

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


def _lock_holders(fd: int) -> list[int]:
    """Pids holding an flock on ``fd``'s file, from ``/proc/locks`` (empty if unknown)."""
    # Matched on the inode number alone: on overlay file systems /proc/locks names
    # the lower file system's device, not the one fstat reports.
    inode = str(os.fstat(fd).st_ino)
    pids: list[int] = []
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a "->" marks a waiter)
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
            continue
        if parts[5].rsplit(":", 1)[-1] == inode and parts[4].isdigit():
            pids.append(int(parts[4]))
    return pids


def _held_by_someone_else(fd: int) -> bool:
    """True if all holders of the lock are processes of other users (no supervisor of ours)."""
    holders = _lock_holders(fd)
    if not holders:
        return False
    for pid in holders:
        try:
            if os.stat(f"/proc/{pid}").st_uid == os.geteuid():
                return False
        except FileNotFoundError:
            continue
    return True
