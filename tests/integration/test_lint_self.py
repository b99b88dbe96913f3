"""stateline's own code passes `stateline lint`: the demo local counter is the one
suppressed finding, and it carries its reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from stateline.lint import lint

REPO = Path(__file__).resolve().parents[2]


def test_stateline_src_has_no_findings_and_one_suppressed_demo_counter() -> None:
    result = lint([REPO / "src"], cwd=REPO)
    assert [(f.rule, f.path, f.line) for f in result.findings] == []
    assert [(f.rule, f.path) for f in result.suppressed] == [
        ("SL101", "src/stateline/app/services/demo.py")]
    (demo,) = result.suppressed
    assert demo.chain[0] == "POST /api/demo/local-counter"


def test_stateline_lint_src_exits_0_from_the_command_line(stateline_cmd: list[str]) -> None:
    proc = subprocess.run([*stateline_cmd, "lint", "src", "--format", "json"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == {"findings": []}
