"""``up --ui-port``/``--no-ui`` refusals: one line, exit 2, nothing started or created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STATELINE = [sys.executable, "-m", "stateline", "up"]


@pytest.mark.parametrize(("args", "said"), [
    (["--ui-port", "0"], "--ui-port"),
    (["--ui-port", "70000"], "--ui-port"),
    (["--port", "65535"], "--ui-port or --no-ui"),
])
def test_a_bad_dashboard_port_is_a_usage_error(tmp_path: Path, args: list[str],
                                               said: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    out = subprocess.run([*STATELINE, *args, "--data-dir", str(tmp_path / "data")],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2, out.stderr
    assert said in out.stderr
    assert not (tmp_path / "data").exists()
