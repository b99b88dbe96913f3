"""The data dir is private to its owner: the dir 0700, everything in it 0600 (dirs 0700).

It holds every user's email address (SQLite), every session and cart (Redis's
AOF), the Redis password, the logs and the control socket. A 0755 dir with
0644 files lets any local user read them all, and a world-readable
``supervisor.lock`` lets any local user ``flock`` it and lock ``stateline up``
out. So:

- a new data dir is made 0700, and ``stateline up`` runs with umask 077, so
  whatever it and its children create later (AOF, nodes.conf, the database,
  logs) is 0600 from the start;
- an older data dir is fixed on start: the dir to 0700 and, if it is a
  stateline data dir (it has one of :data:`MARKERS`), every file and dir in it
  to 0600/0700. Symbolic links are not followed, and nothing that belongs to
  another user is touched. A dir that is not (yet) a stateline one (a user's
  ``--data-dir ~/work``, say) only has its own mode changed.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077
#: Names whose presence says "this is a stateline data dir": its contents are ours to fix.
MARKERS = ("topology.json", "supervisor.lock", "stateline.db", "redis.secret", "redis", "logs")


def ensure_private_dir(path: Path) -> bool:
    """Make ``path`` (0700) if missing, else make it 0700; fix what is in it. True if made now."""
    path = Path(path)
    created = False
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, DIR_MODE)
            created = True
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        st = os.stat(path)  # a data dir given as a symlink: the target must be a dir we own
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"the data dir {path} is not a directory")
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    if not created and any((path / m).exists() for m in MARKERS):
        fix_tree(path)
    return created


def fix_tree(root: Path) -> list[Path]:
    """Set every dir under ``root`` to 0700 and every other entry to 0600; returns those changed.

    Walks without following symlinks, skips entries another user owns.
    """
    changed: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            entry = Path(dirpath) / name
            try:
                st = os.lstat(entry)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid():
                continue
            want = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
            if stat.S_IMODE(st.st_mode) != want:
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(entry, want)
                    changed.append(entry)
    return changed


def open_private(path: Path, flags: int) -> int:
    """``os.open`` for a file in the data dir: never through a symlink, created 0600, kept 0600."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd
