"""`stateline experiment failover --quick`, end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess

import pytest


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_failover_quick_loses_no_request_of_thousands(tmp_path, stateline_cmd):
    out = tmp_path / "results"
    run = subprocess.run([*stateline_cmd, "experiment", "failover", "--quick", "--out", str(out)],
                         capture_output=True, text=True, timeout=220)
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads((out / "failover" / "data.json").read_text())
    assert isinstance(data["requests"], int) and isinstance(data["failed"], int)
    assert data["requests"] >= 1000
    assert data["failed"] == 0, data["errors"]
    assert data["failed_during_drain"] == 0
    assert [f["action"] for f in data["faults"]] == ["kill", "scale"]
    assert data["teardown"]["leftover_processes"] == 0
    assert (out / "failover" / "report.md").read_text().startswith("# Failover")
    assert (out / "failover" / "timeline.png").read_bytes()[:4] == b"\x89PNG"
