"""`stateline bench` and `stateline report` fail clearly, never report nothing as success."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from stateline.local.procs import free_port, port_is_free


def test_bench_against_a_dead_port_exits_non_zero_and_says_so(stateline_cmd: list[str]) -> None:
    port = free_port()
    assert port_is_free(port)
    run = subprocess.run([*stateline_cmd, "bench", f"http://127.0.0.1:{port}/", "-d", "1",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert f"cannot connect to 127.0.0.1:{port}" in run.stderr
    assert "Connection refused" in run.stderr
    assert run.stdout == ""  # no throughput figures for a load that never reached anything


def test_bench_where_no_request_succeeds_exits_non_zero(stateline_cmd: list[str]) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", free_port()))
        silent.listen(256)
        port = silent.getsockname()[1]
        run = subprocess.run([*stateline_cmd, "bench", f"http://127.0.0.1:{port}/", "-d", "1",
                              "-c", "2", "--timeout", "0.3", "--json"],
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "requests succeeded" in run.stderr


def test_report_on_a_missing_folder_fails_and_creates_nothing(
        tmp_path: Path, stateline_cmd: list[str]) -> None:
    missing = tmp_path / "nonexistent" / "results"
    run = subprocess.run([*stateline_cmd, "report", "--out", str(missing)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert f"{missing} is not a directory" in run.stderr
    assert not missing.exists() and not missing.parent.exists()


def test_report_on_a_folder_without_results_fails(tmp_path: Path,
                                                  stateline_cmd: list[str]) -> None:
    run = subprocess.run([*stateline_cmd, "report", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "holds no experiment results" in run.stderr
    assert not (tmp_path / "report.md").exists()
