"""Refusals of `stateline up` and `stateline app`: one clear line, a non-zero exit, nothing left."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from stateline.local.procs import free_port

STATELINE = [sys.executable, "-m", "stateline"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    env.update(extra)
    return env


def test_a_refused_up_leaves_no_data_dir_behind(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
        out = subprocess.run([sys.executable, "-m", "stateline", "up", "--port", str(port),
                              "--data-dir", str(data_dir)], capture_output=True, text=True,
                             env=env, timeout=60)
    assert out.returncode == 1
    assert f"port {port} is in use" in out.stdout + out.stderr
    assert not data_dir.exists()


def test_a_sqlite_url_in_a_missing_directory_is_refused_and_nothing_is_created(
        tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    env = clean_env(STATELINE_DATABASE_URL=f"sqlite:///{missing}/x.db")
    data_dir = tmp_path / "data"
    up = subprocess.run([*STATELINE, "up", "--port", str(free_port()), "--data-dir",
                         str(data_dir)], capture_output=True, text=True, env=env, timeout=60)
    assert up.returncode == 1
    assert f"directory {missing} of the SQLite file x.db does not exist" in up.stdout
    app = subprocess.run([*STATELINE, "app", "--port", str(free_port())], capture_output=True,
                         text=True, timeout=60,
                         env={**env, "STATELINE_REDIS_URL": "redis://127.0.0.1:9/0"})
    assert app.returncode == 2 and "does not exist" in app.stderr
    assert not (tmp_path / "no").exists()
    assert not data_dir.exists()
