"""Precision and recall of `stateline lint` on real public apps (labels in
bench/lint_realworld/*.yaml), per app and per split, strict.

    .venv/bin/python bench/lint_realworld.py MIRRORS
        [--set labels|dev-round2|dev-round3|dev-round4|holdout]
        [--split dev|holdout|survey|holdout-survey] [--app ID] [--findings]

Each label file is scored and printed as its own table; `--set` picks one:
- `labels.yaml`: the dev set (including the first holdout) and its survey;
- `dev-round2.yaml`, `dev-round3.yaml`, `dev-round4.yaml`: the second, third and
  fourth holdouts, each scored once as a holdout on frozen rules, read and tuned
  on since, so now dev and survey too;
- `holdout.yaml`: the next holdout, built by someone who does not change the
  rules, and its survey; absent until that round's labels are committed.
  Nobody tunes on it.

MIRRORS is a folder of local git mirrors, one per repository, found as
`MIRRORS/owner+name/repo`, `MIRRORS/owner+name` or `MIRRORS/owner/name` (bare or
not). Each app's commit is exported with `git archive` into a temporary folder
outside this repository, its `root` is linted, and findings are matched to
labels by path and line.

Strict scoring: recall = bug labels with a finding on their line / bug labels.
Precision = right findings / all findings, where a finding is right when it sits
on a bug label or was reviewed `TP`; reviewed `FP`, `debatable` and unreviewed
findings all count as wrong. `--findings` lists every finding with its verdict,
for reviewing (holdout findings are reviewed only after the rules are frozen).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stateline.lint import lint

# The sets the rule changers may read and tune on; a repository in any of them
# cannot be scored as held out.
TUNING_SETS = ("labels", "dev-round2", "dev-round3", "dev-round4")
# Held-out sets: built by someone who did not change the rules, scored on rules
# frozen before their first run. `holdout.yaml` is absent between rounds.
HOLDOUT_SETS = ("holdout",)
# Each set is the file of its name: `--set dev-round3` reads dev-round3.yaml.
LABEL_SETS = {name: Path(__file__).resolve().parent / "lint_realworld" / f"{name}.yaml"
              for name in (*TUNING_SETS, *HOLDOUT_SETS)}
SPLITS = ("dev", "holdout", "survey", "holdout-survey")
# `excluded`: apps dropped from a holdout (picked for dev by the rule changers too);
# scored only when asked for with --split excluded.
EXCLUDED = "excluded"


@dataclass
class Score:
    labels: int = 0
    found: int = 0
    findings: int = 0
    right: int = 0
    unreviewed: int = 0
    missed: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.labels += other.labels
        self.found += other.found
        self.findings += other.findings
        self.right += other.right
        self.unreviewed += other.unreviewed

    @property
    def precision(self) -> float:
        return self.right / self.findings if self.findings else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else 1.0


def find_mirror(mirrors: Path, repo: str) -> Path | None:
    owner, name = repo.split("/", 1)
    for cand in (mirrors / f"{owner}+{name}" / "repo", mirrors / f"{owner}+{name}",
                 mirrors / owner / name, mirrors / name):
        if (cand / ".git").exists():
            return cand / ".git"
        if (cand / "HEAD").exists() and (cand / "objects").exists():
            return cand
    return None


def export(git_dir: Path, commit: str, root: str, into: Path) -> Path:
    """`git archive COMMIT ROOT` unpacked under `into` (Python files only)."""
    # Only the files the analyser reads: a mirror may lack large blobs (images).
    git = ["git", f"--git-dir={git_dir}"]
    listing = subprocess.run([*git, "ls-tree", "-r", "--name-only", commit, "--",
                              root or "."], capture_output=True, text=True, check=True).stdout
    paths = [p for p in listing.splitlines()
             if p.endswith(".py") or p.rsplit("/", 1)[-1] in ("setup.cfg", "pyproject.toml")]
    for i in range(0, len(paths), 500):
        data = subprocess.run([*git, "archive", "--format=tar", commit, "--",
                               *paths[i:i + 500]], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(into, filter="data")
    return into / root if root else into


def score_app(app: dict, mirrors: Path, show: bool) -> Score | None:
    git_dir = find_mirror(mirrors, app["repo"])
    if git_dir is None:
        print(f"  {app['id']}: no mirror of {app['repo']} under {mirrors}")
        return None
    labels = {(lb["path"], int(lb["line"])): lb for lb in app.get("labels") or []}
    # a verdict may name the rule it was given for (`rule:`); without one it holds for any
    reviewed = {(r["path"], int(r["line"]), r.get("rule", "")): r
                for r in app.get("reviewed") or []}
    s = Score(labels=len(labels))
    with tempfile.TemporaryDirectory(prefix="stateline-rw-") as tmp:
        tree = export(git_dir, app["commit"], app.get("root", ""), Path(tmp))
        result = lint([tree], cwd=tree)
    s.findings = len(result.findings)
    hit: set[tuple[str, int]] = set()
    for f in result.findings:
        key = (f.path, f.line)
        verdict = "unreviewed"
        if key in labels:
            hit.add(key)
            verdict = "LABEL"
            want = labels[key].get("rule")
            if want and want != f.rule:
                s.mismatched.append(f"{f.path}:{f.line} got {f.rule} want {want}")
        elif (*key, f.rule) in reviewed or (*key, "") in reviewed:
            verdict = reviewed.get((*key, f.rule), reviewed.get((*key, "")))["verdict"]
        if verdict in ("LABEL", "TP"):
            s.right += 1
        if verdict == "unreviewed":
            s.unreviewed += 1
        if show:
            print(f"    [{verdict:10}] {f.path}:{f.line} {f.rule} {f.message}")
            if f.chain:
                print(f"                 chain: {' → '.join(f.chain)}")
    s.found = len(hit)
    s.missed = [f"{p}:{ln} ({labels[(p, ln)]['kind']})" for p, ln in labels if (p, ln) not in hit]
    for n in getattr(result, "notes", ()):
        print(f"    note: {n.path}: {n.message}")
    return s


def load_apps(label_set: str) -> list[dict]:
    """The apps of one label file (a key of LABEL_SETS); [] when it is absent."""
    path = LABEL_SETS[label_set]
    if not path.exists():
        return []
    return yaml.safe_load(path.read_text()).get("apps") or []


def score_set(label_set: str, args: argparse.Namespace) -> None:
    """Score and print one label file's apps as its own table."""
    apps = load_apps(label_set)
    splits = args.split or list(SPLITS)
    print(f"== {LABEL_SETS[label_set].name}")
    print(f"{'app':34} {'split':14} {'labels':>6} {'found':>5} {'recall':>6} "
          f"{'findings':>8} {'right':>5} {'unrev':>5} {'precision':>9}")
    totals: dict[str, Score] = {}
    per_app_recall: dict[str, list[float]] = {}
    for app in apps:
        if app["split"] not in splits or (args.app and app["id"] not in args.app):
            continue
        try:
            s = score_app(app, args.mirrors, args.findings)
        except Exception as exc:  # a tree that crashes the tool is a finding of its own
            print(f"{app['id']:34} {app['split']:14} CRASH {type(exc).__name__}: {exc}")
            continue
        if s is None:
            continue
        totals.setdefault(app["split"], Score()).add(s)
        if s.labels:
            per_app_recall.setdefault(app["split"], []).append(s.recall)
        print(f"{app['id']:34} {app['split']:14} {s.labels:6d} {s.found:5d} {s.recall:6.2f} "
              f"{s.findings:8d} {s.right:5d} {s.unreviewed:5d} {s.precision:9.2f}")
        for m in s.missed:
            print(f"    missed {m}")
        for m in s.mismatched:
            print(f"    rule mismatch {m}")
    print()
    for split, s in totals.items():
        print(f"{'total ' + split:34} {'':14} {s.labels:6d} {s.found:5d} {s.recall:6.2f} "
              f"{s.findings:8d} {s.right:5d} {s.unreviewed:5d} {s.precision:9.2f}")
        if per_app_recall.get(split):
            rs = per_app_recall[split]
            print(f"{'  mean recall per app':34} {'':14} {'':6} {'':5} {sum(rs) / len(rs):6.2f}")
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mirrors", type=Path)
    ap.add_argument("--set", choices=tuple(LABEL_SETS), action="append", dest="sets",
                    help="label file(s) to score (default: both)")
    ap.add_argument("--split", choices=(*SPLITS, EXCLUDED), action="append")
    ap.add_argument("--app", action="append", help="only these app ids")
    ap.add_argument("--findings", action="store_true", help="list findings with verdicts")
    args = ap.parse_args()
    for label_set in args.sets or list(LABEL_SETS):
        score_set(label_set, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
