"""`stateline lint` as a user runs it: exit codes, formats, --select/--ignore."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

APP = """
from flask import Flask
app = Flask(__name__)
HITS = {}

@app.route("/hit/<k>")
def hit(k):
    HITS[k] = HITS.get(k, 0) + 1
    return "ok"
"""


def run(cmd: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, "lint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def test_errors_exit_1_with_the_chain_and_fix_in_text(tmp_path: Path,
                                                     stateline_cmd: list[str]) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    proc = run(stateline_cmd, ".", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "app.py" in proc.stdout
    assert "SL102" in proc.stdout
    assert "GET /hit/<k> → hit → HITS[k] = HITS.get(k, 0) + 1" in proc.stdout
    assert "fix:" in proc.stdout


def test_clean_code_and_ignored_rules_exit_0(tmp_path: Path, stateline_cmd: list[str]) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    proc = run(stateline_cmd, "--ignore", "container-mutation", "--format", "json", ".",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"findings": []}


def test_select_and_sarif(tmp_path: Path, stateline_cmd: list[str]) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    proc = run(stateline_cmd, "--select", "SL102", "--format", "sarif", "app.py", cwd=tmp_path)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert [r["ruleId"] for r in doc["runs"][0]["results"]] == ["SL102"]


def test_usage_errors_exit_2(tmp_path: Path, stateline_cmd: list[str]) -> None:
    assert run(stateline_cmd, "missing/", cwd=tmp_path).returncode == 2
    assert run(stateline_cmd, "--select", "SL999", ".", cwd=tmp_path).returncode == 2
    assert run(stateline_cmd, "--format", "xml", ".", cwd=tmp_path).returncode == 2


def test_the_lint_path_imports_neither_typer_nor_rich(tmp_path: Path) -> None:
    """Start-up budget: `stateline lint` must not pay for the typer app or rich."""
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    probe = ("import sys\n"
             "sys.argv = ['stateline', 'lint', '--format', 'json', 'app.py']\n"
             "from stateline.cli import main\n"
             "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
             "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich',"
             " 'click'))\n"
             "print('HEAVY', heavy, code, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert "HEAVY [] 1" in proc.stderr, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["rule"] == "SL102"


def test_lint_help_lists_the_options(tmp_path: Path, stateline_cmd: list[str]) -> None:
    proc = run(stateline_cmd, "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "--select" in proc.stdout and "--format" in proc.stdout
