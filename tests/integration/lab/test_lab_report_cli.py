"""`stateline experiment routing` then `stateline report`, as a user runs them."""

from __future__ import annotations

import json
import subprocess


def test_report_reads_experiment_results_and_writes_markdown_and_self_contained_html(
        tmp_path, stateline_cmd):
    out = tmp_path / "results"
    subprocess.run([*stateline_cmd, "experiment", "routing", "--quick", "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    data = json.loads((out / "routing" / "data.json").read_text())
    assert data["experiment"] == "routing" and data["quick"] is True
    assert data["machine"]["cores"] >= 1 and data["machine"]["python"]
    subprocess.run([*stateline_cmd, "report", "--out", str(out)], check=True,
                   capture_output=True, timeout=120)
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "| Load Balancing | Round-robin works: **round robin" in md
    assert "(routing/data.json)" in md
    assert "not measured yet (`stateline experiment failover`)" in md
    assert "data:image/png;base64," in html and 'src="routing/' not in html


def test_unknown_experiment_is_refused_with_the_known_names(tmp_path, stateline_cmd):
    run = subprocess.run([*stateline_cmd, "experiment", "nope", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "failover" in run.stderr
