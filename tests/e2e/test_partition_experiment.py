"""``stateline experiment partition --quick`` end to end: data.json, report, plots, no leftovers.

The figures themselves (how many writes were lost) depend on timing and are
reported, not asserted; what is asserted cannot race: the keys are there and
consistent with each other, the old master can only learn it was replaced
once the partition has healed, and nothing of the run is left on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stateline.lab.netns import leftovers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_partition_quick_writes_its_figures_and_leaves_nothing(
        tmp_path: Path, needs_hosts: None) -> None:
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "stateline", "experiment", "partition",
                           "--quick", "--out", str(out)], capture_output=True, text=True,
                          timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "partition" / "data.json").read_text())
    for mode in ("plain", "wait"):
        m = data["modes"][mode]
        for key in ("acknowledged", "lost_acknowledged", "unavailable_s", "node_timeout_s",
                    "promotion_s", "old_master_demoted_s"):
            assert key in m, (mode, key)
        assert m["node_timeout_s"] == 1.0
        assert 0 <= m["lost_acknowledged"] <= m["acknowledged"]
        assert m["acknowledged"] == sum(s["acknowledged"] for s in m["sides"].values())
        assert m["lost_acknowledged"] == sum(s["lost_acknowledged"]
                                             for s in m["sides"].values())
        assert len(m["timeline"]["lost"]) == m["lost_acknowledged"]
        # Cut off, the old master hears of its replacement only after the heal.
        assert m["old_master_demoted_s"] is not None
        assert m["old_master_demoted_s"] >= m["timeline"]["heal_s"]
        assert (out / "partition" / f"partition_{mode}.png").stat().st_size > 1000
    st = data["stateless"]
    assert st["requests"] > 0 and 0 <= st["failed"] <= st["requests"]
    report = (out / "partition" / "report.md").read_text()
    assert "cluster-node-timeout" in report and "documented bound" in report
    run = next(line.split("(run ", 1)[1].split(")", 1)[0]
               for line in proc.stderr.splitlines() if line.startswith("hosts on "))
    assert leftovers(run) == {"namespaces": [], "links": [], "processes": []}
