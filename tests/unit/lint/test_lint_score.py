"""The scorer: labels, matching by (file, line), rule mismatches, per-rule figures."""

from __future__ import annotations

from pathlib import Path

from stateline.lint.score import Hit, read_labels, score, score_lenient


def test_labels_are_read_with_every_acceptable_id(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.py").write_text(
        "X = 1\nY.append(1)  # expect: SL102\nZ += 1  # expect: SL101, SL114\n"
        "W = 2  # trap: a constant\n")
    assert read_labels(tmp_path) == {("a/m.py", 2): ("SL102",), ("a/m.py", 3): ("SL101", "SL114")}


def test_a_finding_on_an_unlabelled_line_is_a_false_positive() -> None:
    labels = {("m.py", 2): ("SL102",)}
    s = score(labels, [Hit("m.py", 2, "SL102"), Hit("m.py", 4, "SL101")])
    assert s.precision == 0.5
    assert s.recall == 1.0
    assert [h.line for h in s.false_pos] == [4]


def test_a_missed_label_lowers_recall_and_a_wrong_rule_is_a_mismatch() -> None:
    labels = {("m.py", 2): ("SL102",), ("m.py", 3): ("SL101", "SL114")}
    s = score(labels, [Hit("m.py", 3, "SL105")])
    assert s.recall == 0.5
    assert s.precision == 1.0
    assert [(h.line, ids) for h, ids in s.mismatched] == [(3, ("SL101", "SL114"))]
    rows = {r[0]: r for r in s.per_rule()}
    assert rows["SL102"][1:4] == (1, 0, 0)  # labels, findings, true positives
    assert rows["SL105"][2] == 1


def test_ruff_style_scoring_ignores_rule_ids() -> None:
    s = score({("m.py", 2): ("SL102",)}, [Hit("m.py", 2, "B006")], any_rule=True)
    assert s.mismatched == []
    assert s.precision == 1.0


def test_lenient_scoring_credits_a_declaration_for_the_writes_in_its_function(
        tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "X = 0\n\ndef f():\n    global X\n    X += 1\n\ndef g():\n    return 1\n")
    labels = {("m.py", 5): ("SL101",)}
    precision, recall = score_lenient(tmp_path, labels, [Hit("m.py", 4, "PLW0603"),
                                                         Hit("m.py", 8, "X")])
    assert (precision, recall) == (0.5, 1.0)
