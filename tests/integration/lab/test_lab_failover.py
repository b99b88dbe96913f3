"""`stateline experiment failover --quick`, end to end, as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess

import pytest


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_failover_quick_loses_no_request_of_thousands(tmp_path, stateline_cmd):
    out = tmp_path / "results"
    ticks = tmp_path / "progress.jsonl"
    run = subprocess.run([*stateline_cmd, "experiment", "failover", "--quick", "--out", str(out),
                          "--progress-file", str(ticks)],
                         capture_output=True, text=True, timeout=220)
    assert run.returncode == 0, run.stderr[-3000:]
    # Off a TTY: one plain progress line per quarter of the 24 s load, then the headline.
    quarters = re.findall(r"^  load with a SIGKILL and a drain: \d+% \(\d+/24 s, ETA \d+ s\)"
                          r"  [\d,]+ req/s  [\d,]+ errors  p99 [\d.]+ ms$", run.stderr, re.M)
    assert len(quarters) == 3, run.stderr[-3000:]
    assert run.stdout.startswith("failover: SIGKILL of 1 of 3 instances: 0 failed of ")
    assert "(quick run" in run.stdout and run.stdout.rstrip().endswith("report.md")
    records = [json.loads(line) for line in ticks.read_text().splitlines()]
    assert sum(r["kind"] == "tick" for r in records) >= 10
    assert records[-1]["kind"] == "done" and records[-1]["headline"]["failed"] == 0
    data = json.loads((out / "failover" / "data.json").read_text())
    assert isinstance(data["requests"], int) and isinstance(data["failed"], int)
    assert data["requests"] >= 1000
    assert data["failed"] == 0, data["errors"]
    assert data["failed_during_drain"] == 0
    assert [f["action"] for f in data["faults"]] == ["kill", "scale"]
    assert data["teardown"]["leftover_processes"] == 0
    assert (out / "failover" / "report.md").read_text().startswith("# Failover")
    assert (out / "failover" / "timeline.png").read_bytes()[:4] == b"\x89PNG"
