"""A dashboard run reads its child's progress file: whole lines only, ticks become points."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

from stateline.dashboard.jobs import POINTS_SENT, Job

# Stands in for `stateline bench/experiment --progress-file PATH` (the last two arguments).
CHILD = textwrap.dedent('''
    import json, sys
    path = sys.argv[-1]
    n = int(sys.argv[1])
    with open(path, "a") as f:
        f.write(json.dumps({"at": 0.1, "kind": "step", "text": "starting"}) + "\\n")
        for i in range(n):
            f.write(json.dumps({"at": i / 2, "kind": "tick", "t": i / 2, "total": 10.0,
                                "rps": 50.0 + i, "errors_per_s": 0.0, "errors": 0,
                                "p50_ms": 1.0, "p99_ms": 3.0, "label": "load"}) + "\\n")
        f.write("not json\\n")
        f.write(json.dumps({"at": 9.9, "kind": "done", "text": "fine"}) + "\\n")
        f.write('{"kind": "tick", "label": "half')
''')


def run(tmp_path: Path, n: int) -> Job:
    job = Job(1, "load", "probe", [sys.executable, "-c", CHILD, str(n)], tmp_path)
    job.proc.wait(60)
    return job


def test_points_steps_and_result_are_read_from_whole_lines(tmp_path: Path) -> None:
    state = run(tmp_path, 4).state()
    assert state["running"] is False and state["exit"] == 0
    assert [p["rps"] for p in state["points"]] == [50.0, 51.0, 52.0, 53.0]
    assert state["load"] == {"t": 1.5, "total": 10.0, "label": "load", "errors": 0}
    assert state["steps"] == ["starting"]
    assert state["result"]["text"] == "fine"


def test_a_half_written_line_waits_for_its_end(tmp_path: Path) -> None:
    job = run(tmp_path, 1)
    job.read()
    with job.progress_path.open("a") as f:
        f.write(' a line", "t": 7.0, "total": 10.0, "rps": 9.0}\n')
    state = job.state()
    assert [p["rps"] for p in state["points"]] == [50.0, 9.0]
    assert state["points"][-1]["label"] == "half a line"


def test_only_the_recent_points_are_sent(tmp_path: Path) -> None:
    state = run(tmp_path, POINTS_SENT + 10).state()
    assert len(state["points"]) == POINTS_SENT
    assert state["points"][-1]["rps"] == 50.0 + POINTS_SENT + 9


def test_stop_is_a_ctrl_c_that_the_run_can_clean_up_after(tmp_path: Path) -> None:
    waits = textwrap.dedent('''
        import signal, sys, time
        signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever the runner set
        with open(sys.argv[-1], "a") as f:
            f.write('{"kind": "step", "text": "ready"}\\n')
        try:
            time.sleep(120)
        except KeyboardInterrupt:
            with open(sys.argv[-1], "a") as f:
                f.write('{"kind": "failed", "error": "stopped"}\\n')
            sys.exit(130)
    ''')
    job = Job(2, "experiment", "probe", [sys.executable, "-c", waits], tmp_path)
    for _ in range(1200):  # a hang guard: until the child has its handler
        if job.state()["steps"] == ["ready"] or job.proc.poll() is not None:
            break
        time.sleep(0.05)
    assert job.state()["steps"] == ["ready"]
    job.stop()
    assert job.proc.wait(60) == 130
    state = job.state()
    assert state["running"] is False and state["result"]["error"] == "stopped"
    job.kill(1.0)  # already gone: nothing to do, no error
