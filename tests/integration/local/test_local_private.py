"""The data dir is private: made 0700 with 0600 files, older ones fixed, the lock unfoolable.

Checks here need no second user; the same rules seen by ``nobody`` are in
test_local_other_user.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stateline.local.lock import DataDirBusy, DataDirLock
from stateline.local.private import ensure_private_dir, fix_tree


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_new_data_dir_is_made_0700(tmp_path: Path) -> None:
    assert ensure_private_dir(tmp_path / "new" / "data") is True
    assert mode(tmp_path / "new" / "data") == 0o700
    assert ensure_private_dir(tmp_path / "new" / "data") is False


def test_an_older_data_dir_is_fixed_on_start(tmp_path: Path) -> None:
    d = tmp_path / "data"
    (d / "logs").mkdir(parents=True)
    (d / "redis" / "7000").mkdir(parents=True)
    for name in ("stateline.db", "supervisor.lock", "topology.json", "logs/app-1.log",
                 "redis/7000/appendonly.aof", "redis/7000/nodes.conf"):
        (d / name).write_text("x")
        os.chmod(d / name, 0o644)
    for sub in (d, d / "logs", d / "redis", d / "redis" / "7000"):
        os.chmod(sub, 0o755)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not ours to change")
    os.chmod(outside, 0o644)
    (d / "link").symlink_to(outside)
    ensure_private_dir(d)
    assert mode(d) == 0o700
    for sub in (d / "logs", d / "redis", d / "redis" / "7000"):
        assert mode(sub) == 0o700
    for name in ("stateline.db", "supervisor.lock", "topology.json", "logs/app-1.log",
                 "redis/7000/appendonly.aof", "redis/7000/nodes.conf"):
        assert mode(d / name) == 0o600, name
    assert mode(outside) == 0o644  # a symlink is not followed
    assert fix_tree(d) == []  # nothing left to fix


def test_a_dir_that_is_not_a_data_dir_only_has_its_own_mode_changed(tmp_path: Path) -> None:
    d = tmp_path / "work"
    d.mkdir()
    script = d / "run.sh"
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o755)
    ensure_private_dir(d)
    assert mode(d) == 0o700 and mode(script) == 0o755


def test_the_lock_is_0600_and_never_opened_through_a_symlink(tmp_path: Path) -> None:
    d = tmp_path / "data"
    with DataDirLock(d) as lock:
        assert mode(lock.path) == 0o600 and mode(d) == 0o700
        with pytest.raises(DataDirBusy):
            DataDirLock(d).acquire()
    lock.path.unlink()
    target = tmp_path / "victim"
    target.write_text("keep me")
    lock.path.symlink_to(target)
    with pytest.raises(OSError):
        DataDirLock(d).acquire()
    assert target.read_text() == "keep me"
