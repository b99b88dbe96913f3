"""stateline's own code passes `stateline lint`: the demo local counter and the rooms
shards' deliberate in-memory state are the suppressed findings, each with its reason,
and without the suppressions the checker reports the shards' state."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from stateline.lint import lint

REPO = Path(__file__).resolve().parents[2]


def test_stateline_src_has_no_findings_and_only_deliberate_state_suppressed() -> None:
    result = lint([REPO / "src"], cwd=REPO)
    assert [(f.rule, f.path, f.line) for f in result.findings] == []
    suppressed = {(f.rule, f.path) for f in result.suppressed}
    assert ("SL101", "src/stateline/app/services/demo.py") in suppressed
    assert {path for _, path in suppressed} == {
        "src/stateline/app/services/demo.py", "src/stateline/shards/rooms.py",
        "src/stateline/shards/server.py"}
    (demo,) = [f for f in result.suppressed if f.path.endswith("demo.py")]
    assert demo.chain[0] == "POST /api/demo/local-counter"


def test_without_its_suppressions_the_shards_state_is_reported(tmp_path: Path) -> None:
    """The rooms shards keep rooms in memory on purpose; the checker must still see them."""
    copy = tmp_path / "src"
    shutil.copytree(REPO / "src", copy, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    rooms = copy / "stateline" / "shards" / "rooms.py"
    rooms.write_text(re.sub(r"  # stateline: allow\[[^\]]*\][^\n]*", "", rooms.read_text()))
    result = lint([copy], cwd=tmp_path)
    lines = rooms.read_text().splitlines()
    found = {(f.rule, f.path, lines[f.line - 1].strip()) for f in result.findings
             if f.path.endswith("shards/rooms.py")}
    assert ("SL105", "src/stateline/shards/rooms.py",
            "self.rooms[room_id], self.holdings[room_id] = room, got") in found
    assert any(text == "self.rooms.pop(room_id, None)" for _, _, text in found)
    chains = [f.chain for f in result.findings if f.path.endswith("shards/rooms.py")]
    assert any(c[0].startswith("GET /api/rooms/") for c in chains)


def test_stateline_lint_src_exits_0_from_the_command_line(stateline_cmd: list[str]) -> None:
    proc = subprocess.run([*stateline_cmd, "lint", "src", "--format", "json"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == {"findings": []}
