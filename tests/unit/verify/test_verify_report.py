"""What `stateline verify` prints: side-by-side text for people, JSON for tools."""

from __future__ import annotations

import json

import httpx

from stateline.verify.compare import Normaliser, Observed, compare
from stateline.verify.http import Exchange
from stateline.verify.replay import Difference, ModeReport, Report, StepResult
from stateline.verify.report import render_json, render_text, side_by_side
from stateline.verify.script import parse_script, render

STEP = parse_script("- {method: POST, path: /api/demo/local-counter}").steps[0]


def _result(replica: str, status: int, body: dict[str, object], served_by: str) -> StepResult:
    content = json.dumps(body).encode()
    ex = Exchange(render(STEP, {}), replica, status,
                  httpx.Headers({"x-instance-id": served_by}), content)
    return StepResult(STEP, ex, Observed(status, body=Normaliser(volatile=("instance",)).json(body),
                                      raw=content))


def _report() -> Report:
    ref = _result("replica 1 (127.0.0.1:1001)", 200, {"value": 2, "instance": "app-1"}, "app-1")
    other = _result("replica 2 (127.0.0.1:1002)", 200, {"value": 1, "instance": "app-2"},
                    "app-2")
    mismatch = compare(ref.observed, other.observed)
    assert mismatch is not None
    diff = Difference("round_robin", STEP, mismatch.summary(), ref, other, mismatch)
    return Report(
        replicas=["replica 1 (127.0.0.1:1001)", "replica 2 (127.0.0.1:1002)"],
        modes=[
            ModeReport("single", "reference", requests=1),
            ModeReport("round_robin", "different", requests=1, difference=diff),
            ModeReport("restart", "skipped", reason="replicas were given as URLs"),
        ],
    )


def test_side_by_side_pads_the_shorter_column_and_cuts_long_lines() -> None:
    rows = side_by_side(["a", "b"], ["x" * 100], width=50)
    assert len(rows) == 2
    assert rows[0].startswith("a ") and rows[0].endswith("…")
    assert rows[1].rstrip().endswith("│")


def test_text_report_shows_both_responses_and_which_replica_served_each() -> None:
    text = render_text(_report(), width=120)
    assert "(b) round robin across replicas: DIFFERENT at request #1" in text
    assert "(c) round robin, restarting the replica that answered: skipped" in text
    assert "served by: replica 1 (127.0.0.1:1001)" in text
    assert "served by: replica 2 (127.0.0.1:1002)" in text
    assert "instance (from its headers): app-2" in text
    assert "value: 2 → 1" in text
    assert text.rstrip().endswith("result: difference found in mode round_robin")


def test_json_report_names_the_first_difference() -> None:
    doc = json.loads(render_json(_report()))
    assert doc["result"] == "different"
    first = doc["first_difference"]
    assert (first["mode"], first["request"], first["path"]) == ("round_robin", 1,
                                                                "/api/demo/local-counter")
    assert first["fields"] == [{"path": "value", "reference": 2, "other": 1}]
    assert first["other"]["served_by"] == "app-2"
    assert [m["status"] for m in doc["modes"]] == ["reference", "different", "skipped"]


def test_exit_codes_follow_the_outcome() -> None:
    assert _report().exit_code == 1
    clean = Report(replicas=[], modes=[ModeReport("single", "reference"),
                                       ModeReport("round_robin", "same")])
    assert clean.exit_code == 0
    broken = Report(replicas=[], modes=[ModeReport("single", "failed", reason="no response")])
    assert broken.exit_code == 2
    assert json.loads(render_json(broken))["result"] == "error"
