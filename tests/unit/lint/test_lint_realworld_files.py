"""The real-world label files stay well formed, and the holdout stays held out.

`bench/lint_realworld.py` scores `labels.yaml` (dev set, first holdout,
survey), `dev-round2.yaml` to `dev-round4.yaml` (the second to fourth holdouts,
tuned on since) and `holdout.yaml` (the next holdout, built by someone who does
not change the rules; absent between rounds).
These checks read only the YAML files and the rule table: no mirror and no
linting is needed. The contamination check is the one that matters: a
repository the rule changers label or review in `labels.yaml` cannot also be
scored as held out.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "bench" / "lint_realworld.py"
RULES_DOC = ROOT / "docs" / "lint-rules.md"


def _scorer():
    spec = importlib.util.spec_from_file_location("lint_realworld", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


_SCORER = _scorer()  # the scorer says where each label file lives and which sets exist


@pytest.fixture(scope="module")
def scorer():
    return _SCORER


def _rule_ids() -> set[str]:
    return set(re.findall(r"^\| (SL\d{3}) \|", RULES_DOC.read_text(), re.M))


_SETS = _SCORER.LABEL_SETS
HOLDOUTS: tuple[str, ...] = _SCORER.HOLDOUT_SETS


def _held(label_set: str):
    """A holdout's checks run once its file is committed, and are skipped (with the
    reason shown) while it is not, e.g. while the round's labels are being written."""
    path = _SETS[label_set]
    return pytest.param(label_set, marks=pytest.mark.skipif(
        not path.exists(), reason=f"{path.name} not committed yet (issue 9)"))


@pytest.mark.parametrize("label_set", [*_SCORER.TUNING_SETS, *(_held(h) for h in HOLDOUTS)])
def test_label_file_is_well_formed(scorer, label_set: str) -> None:
    apps = scorer.load_apps(label_set)
    assert apps, f"{label_set}: no apps"
    rules = _rule_ids()
    allowed = {*scorer.SPLITS, scorer.EXCLUDED}
    ids = [a["id"] for a in apps]
    assert len(ids) == len(set(ids)), f"{label_set}: duplicate app ids"
    for app in apps:
        assert app["split"] in allowed, (app["id"], app["split"])
        assert re.fullmatch(r"[0-9a-f]{40}", app["commit"]), app["id"]
        assert "/" in app["repo"] and isinstance(app.get("root", ""), str), app["id"]
        seen: set[tuple[str, int]] = set()
        for lb in app.get("labels") or []:
            key = (lb["path"], int(lb["line"]))
            assert key not in seen, (app["id"], key)
            seen.add(key)
            assert int(lb["line"]) > 0 and lb["kind"] and lb["why"], (app["id"], key)
            if "rule" in lb:
                assert lb["rule"] in rules, (app["id"], key, lb["rule"])
        for rv in app.get("reviewed") or []:
            assert rv["verdict"] in ("TP", "FP", "debatable"), (app["id"], rv)
            assert rv["why"], (app["id"], rv)
            assert (rv["path"], int(rv["line"])) not in seen, ("verdict on a bug label", rv)


@pytest.mark.parametrize("label_set", [_held(h) for h in HOLDOUTS])
def test_holdout_records_when_its_labels_were_committed(label_set: str) -> None:
    data = yaml.safe_load(_SETS[label_set].read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", str(data["labels_commit"]))


def _scored(scorer, label_set: str) -> list[dict]:
    return [a for a in scorer.load_apps(label_set) if a["split"] in ("holdout", "holdout-survey")]


@pytest.mark.parametrize("label_set", [_held(h) for h in HOLDOUTS])
def test_no_scored_holdout_repository_is_in_the_tuning_set(scorer, label_set: str) -> None:
    tuning = {a["repo"].lower() for s in scorer.TUNING_SETS for a in scorer.load_apps(s)}
    shared = sorted({a["repo"] for a in _scored(scorer, label_set)
                     if a["repo"].lower() in tuning})
    assert not shared, f"also in a tuning set (dev/survey): move to split excluded: {shared}"


def test_excluded_apps_are_not_scored_by_default(scorer) -> None:
    assert scorer.EXCLUDED not in scorer.SPLITS
