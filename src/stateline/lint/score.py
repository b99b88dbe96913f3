"""Score `stateline lint` (or ruff) against a labelled corpus.

Labels are trailing comments: `# expect: SL102` (or `# expect: SL101,SL114` when
either id is acceptable). A finding matches a label by (file, line); a match
with a rule the label does not list is a *rule mismatch*, counted separately.
Every finding on an unlabelled line is a false positive, trap lines included.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_EXPECT = re.compile(r"#\s*expect:\s*([A-Za-z0-9_,\s-]+?)\s*(?:#|$)")
RUFF_RULES = ("PLW0603", "B006", "RUF012", "B019")


@dataclass(frozen=True)
class Hit:
    path: str  # relative to the corpus root, with forward slashes
    line: int
    rule: str


@dataclass
class Score:
    labels: dict[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    true_pos: list[Hit] = field(default_factory=list)
    false_pos: list[Hit] = field(default_factory=list)
    missed: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)
    mismatched: list[tuple[Hit, tuple[str, ...]]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return len(self.true_pos) / len(self.hits) if self.hits else 1.0

    @property
    def recall(self) -> float:
        if not self.labels:
            return 1.0
        return (len(self.labels) - len(self.missed)) / len(self.labels)

    def per_rule(self) -> list[tuple[str, int, int, int, float, float]]:
        """(rule, labels, findings, true positives, precision, recall) per rule."""
        by_label = Counter(ids[0] for ids in self.labels.values())
        missed = Counter(ids[0] for _, _, ids in self.missed)
        by_hit = Counter(h.rule for h in self.hits)
        tp = Counter(h.rule for h in self.true_pos)
        rows = []
        for rule in sorted(set(by_label) | set(by_hit)):
            n_lab, n_hit = by_label[rule], by_hit[rule]
            prec = tp[rule] / n_hit if n_hit else float("nan")
            rec = (n_lab - missed[rule]) / n_lab if n_lab else float("nan")
            rows.append((rule, n_lab, n_hit, tp[rule], prec, rec))
        return rows


def read_labels(root: Path) -> dict[tuple[str, int], tuple[str, ...]]:
    labels: dict[tuple[str, int], tuple[str, ...]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(),
                                 start=1):
            if "expect:" not in line:
                continue
            m = _EXPECT.search(line)
            if m:
                ids = tuple(t.strip().upper() for t in m.group(1).split(",") if t.strip())
                if ids:
                    labels[(rel, i)] = ids
    return labels


def score(labels: dict[tuple[str, int], tuple[str, ...]], hits: list[Hit],
          any_rule: bool = False) -> Score:
    """Match hits to labels by (file, line). `any_rule` skips rule-mismatch counting
    (used for ruff, whose rule ids are not ours)."""
    s = Score(labels=labels, hits=hits)
    found: set[tuple[str, int]] = set()
    for h in hits:
        key = (h.path, h.line)
        if key in labels:
            s.true_pos.append(h)
            found.add(key)
            if not any_rule and h.rule not in labels[key]:
                s.mismatched.append((h, labels[key]))
        else:
            s.false_pos.append(h)
    s.missed = [(p, ln, ids) for (p, ln), ids in sorted(labels.items()) if (p, ln) not in found]
    return s


def _spans(path: Path) -> list[tuple[int, int]]:
    """Line spans of every def and class in a file (innermost last when sorted by start)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):
        return []
    return sorted((n.lineno, n.end_lineno or n.lineno) for n in ast.walk(tree)
                  if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))


def score_lenient(root: Path, labels: dict[tuple[str, int], tuple[str, ...]],
                  hits: list[Hit]) -> tuple[float, float]:
    """(precision, recall) when a hit counts for every label inside the innermost
    def/class around it: generous to tools that flag the declaration (`global x`,
    the mutable default, the class attribute) rather than the write."""
    spans: dict[str, list[tuple[int, int]]] = {}
    covered: set[tuple[str, int]] = set()
    useful = 0
    for h in hits:
        file_spans = spans.setdefault(h.path, _spans(root / h.path))
        around = [sp for sp in file_spans if sp[0] <= h.line <= sp[1]]
        lo, hi = around[-1] if around else (h.line, h.line)
        inside = {(p, ln) for (p, ln) in labels if p == h.path and lo <= ln <= hi}
        useful += bool(inside)
        covered |= inside
    precision = useful / len(hits) if hits else 1.0
    recall = len(covered) / len(labels) if labels else 1.0
    return precision, recall


def stateline_hits(root: Path) -> list[Hit]:
    from stateline.lint import lint

    result = lint([root], cwd=root)
    return [Hit(Path(f.path).as_posix(), f.line, f.rule) for f in result.findings]


def ruff_hits(root: Path, rules: tuple[str, ...] = RUFF_RULES) -> list[Hit]:
    exe = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    proc = subprocess.run(
        [exe, "check", "--select", ",".join(rules), "--output-format", "json", "--no-cache",
         "--isolated", "--exit-zero", str(root)],
        capture_output=True, text=True, timeout=120, check=False)
    out = []
    for item in json.loads(proc.stdout or "[]"):
        if item.get("code") not in rules:
            continue  # e.g. ruff's own syntax-error diagnostics
        rel = Path(item["filename"]).resolve().relative_to(root.resolve()).as_posix()
        out.append(Hit(rel, item["location"]["row"], item["code"]))
    return out


def score_corpus(root: Path, tool: str = "stateline") -> Score:
    labels = read_labels(root)
    if tool == "ruff":
        return score(labels, ruff_hits(root), any_rule=True)
    return score(labels, stateline_hits(root))


def format_table(title: str, s: Score) -> str:
    lines = [f"{title}: labels={len(s.labels)} findings={len(s.hits)} "
             f"precision={s.precision:.3f} recall={s.recall:.3f} "
             f"rule-mismatches={len(s.mismatched)}",
             f"  {'rule':8} {'labels':>6} {'found':>6} {'tp':>4} {'precision':>9} {'recall':>7}"]
    for rule, n_lab, n_hit, tp, prec, rec in s.per_rule():
        lines.append(f"  {rule:8} {n_lab:6d} {n_hit:6d} {tp:4d} {_f(prec):>9} {_f(rec):>7}")
    return "\n".join(lines)


def _f(x: float) -> str:
    return "-" if x != x else f"{x:.3f}"
