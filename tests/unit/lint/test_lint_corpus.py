"""The regression test of the rules: the dev corpus is reproduced exactly."""

from __future__ import annotations

from pathlib import Path

from stateline.lint.score import score_corpus

DEV = Path(__file__).resolve().parents[2] / "lint_corpus" / "dev"


def test_every_dev_label_is_found_and_no_unlabelled_line_is_reported() -> None:
    s = score_corpus(DEV)
    assert len(s.labels) >= 60
    assert [f"{p}:{ln} {','.join(ids)}" for p, ln, ids in s.missed] == []
    assert [f"{h.path}:{h.line} {h.rule}" for h in s.false_pos] == []


def test_dev_findings_carry_a_rule_the_label_accepts() -> None:
    s = score_corpus(DEV)
    assert [f"{h.path}:{h.line} {h.rule} (want {','.join(ids)})"
            for h, ids in s.mismatched] == []


def test_dev_corpus_covers_every_rule_and_framework() -> None:
    s = score_corpus(DEV)
    labelled = {ids[0] for ids in s.labels.values()} | {
        i for ids in s.labels.values() for i in ids}
    assert {f"SL{n}" for n in range(101, 120)} | {"SL001"} <= labelled
    frameworks = {p.split("/", 1)[0] for p, _ in s.labels}
    assert {"fastapi", "starlette", "flask", "django", "aiohttp"} <= frameworks
