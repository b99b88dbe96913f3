"""Precision and recall of `stateline lint` and of ruff's nearest rules on the
labelled corpora (tests/lint_corpus/dev and holdout), printed as one table.

    .venv/bin/python bench/lint_score.py [--details]

--details lists false positives, misses and rule mismatches for the dev corpus
only: the holdout is scored, never inspected, so that its figures stay honest.
"""

from __future__ import annotations

import sys
from pathlib import Path

from stateline.lint.score import (
    RUFF_RULES,
    format_table,
    ruff_hits,
    score_corpus,
    score_lenient,
)

ROOT = Path(__file__).resolve().parent.parent / "tests" / "lint_corpus"


def main() -> None:
    details = "--details" in sys.argv
    for group in ("dev", "holdout"):
        root = ROOT / group
        if not root.exists() or not any(root.rglob("*.py")):
            print(f"{group}: (empty)")
            continue
        ours = score_corpus(root)
        print(format_table(f"{group} · stateline lint", ours))
        theirs = score_corpus(root, "ruff")
        print(format_table(f"{group} · ruff {','.join(RUFF_RULES)}", theirs))
        p, r = score_lenient(root, theirs.labels, ruff_hits(root))
        print(f"  ruff, lenient (a hit counts for every label in its def/class): "
              f"precision={p:.3f} recall={r:.3f}")
        if details and group == "dev":  # holdout details stay unread while rules change
            for h in ours.false_pos:
                print(f"  FP {h.path}:{h.line} {h.rule}")
            for p, ln, ids in ours.missed:
                print(f"  FN {p}:{ln} {','.join(ids)}")
            for h, ids in ours.mismatched:
                print(f"  MISMATCH {h.path}:{h.line} got {h.rule} want {','.join(ids)}")
        print()


if __name__ == "__main__":
    main()
