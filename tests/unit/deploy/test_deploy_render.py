"""The pure-Python kustomize renderer: its rules, and agreement with kubectl where installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from k8s_checks import OVERLAYS
from k8s_render import Obj, RenderError, identity, read_env_file, render, strategic_merge


def test_every_overlay_renders_the_whole_system(rendered: dict[str, list[Obj]]) -> None:
    for name in OVERLAYS:
        kinds = {(o["kind"], o["metadata"]["name"]) for o in rendered[name]}
        for expected in [("Deployment", "stateline-gateway"), ("Deployment", "stateline-app"),
                         ("StatefulSet", "stateline-redis"), ("Job", "stateline-redis-bootstrap"),
                         ("StatefulSet", "stateline-postgres"), ("StatefulSet", "stateline-blobs"),
                         ("Secret", "stateline-secrets"),
                         ("Namespace", "stateline")]:
            assert expected in kinds, (name, expected)
        assert all(o["metadata"].get("namespace") == "stateline"
                   for o in rendered[name] if o["kind"] != "Namespace")


def _kustomize_major() -> int | None:
    """The major version of the kustomize built into kubectl, if kubectl says (1.24+)."""
    if shutil.which("kubectl") is None:
        return None
    done = subprocess.run(["kubectl", "version", "--client", "-o", "json"],
                          capture_output=True, text=True, timeout=60, check=False)
    try:
        version = json.loads(done.stdout).get("kustomizeVersion", "")
    except ValueError:
        return None
    match = re.match(r"v(\d+)\.", version)
    return int(match.group(1)) if match else None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_same_objects_as_kubectl_kustomize(kustomize_tree: Path,
                                           rendered: dict[str, list[Obj]], overlay: str) -> None:
    major = _kustomize_major()
    if major is None or major < 5:
        pytest.skip("no kubectl with kustomize 5 here: the renderer's agreement with "
                    "kustomize is checked where there is one")
    out = subprocess.run(["kubectl", "kustomize", str(kustomize_tree / overlay)],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    theirs = {identity(o): o for o in yaml.safe_load_all(out) if o}
    mine = {identity(o): o for o in rendered[overlay]}
    assert sorted(mine) == sorted(theirs)
    for key, obj in mine.items():
        assert obj == theirs[key], key


def test_strategic_merge_merges_named_lists_and_replaces_others() -> None:
    base = {"containers": [{"name": "a", "image": "x", "args": ["1", "2"],
                            "env": [{"name": "K", "value": "1"}]},
                           {"name": "b", "image": "y"}],
            "tolerations": [{"key": "t"}], "drop": 1}
    patch = {"containers": [{"name": "a", "args": ["3"], "env": [{"name": "L", "value": "2"}]},
                            {"name": "c", "image": "z"}],
             "tolerations": [{"key": "u"}], "drop": None}
    merged = strategic_merge(base, patch)
    assert merged == {
        "containers": [{"name": "a", "image": "x", "args": ["3"],
                        "env": [{"name": "K", "value": "1"}, {"name": "L", "value": "2"}]},
                       {"name": "b", "image": "y"}, {"name": "c", "image": "z"}],
        "tolerations": [{"key": "u"}]}
    assert base["containers"][0]["args"] == ["1", "2"]  # the base is not changed


def _write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  A: '1'\n"


def test_unknown_kustomization_key_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, {"kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: x-\n",
                      "cm.yaml": CM})
    with pytest.raises(RenderError, match="namePrefix"):
        render(tmp_path)


def test_patch_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, {"kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: p.yaml\n",
                      "cm.yaml": CM,
                      "p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n"})
    with pytest.raises(RenderError, match="matches no object"):
        render(tmp_path)


def test_generators_need_the_hash_suffix_off(tmp_path: Path) -> None:
    _write(tmp_path, {"kustomization.yaml":
                      "secretGenerator:\n- name: s\n  literals: [a=b]\n"})
    with pytest.raises(RenderError, match="disableNameSuffixHash"):
        render(tmp_path)


def test_secret_generator_and_namespace(tmp_path: Path) -> None:
    _write(tmp_path, {"kustomization.yaml":
                      "namespace: ns\nresources: [cm.yaml]\n"
                      "generatorOptions:\n  disableNameSuffixHash: true\n"
                      "secretGenerator:\n- name: s\n  literals: [token=abc]\n  envs: [s.env]\n",
                      "cm.yaml": CM, "s.env": "# comment\n\nPASS=p=q\n"})
    objects = {identity(o): o for o in render(tmp_path)}
    assert objects[("Secret", "ns", "s")]["data"] == {"token": "YWJj", "PASS": "cD1x"}
    assert ("ConfigMap", "ns", "c") in objects


def test_env_file_lines_must_be_key_value(tmp_path: Path) -> None:
    (tmp_path / "bad.env").write_text("JUSTAKEY\n")
    with pytest.raises(RenderError, match="KEY=VALUE"):
        read_env_file(tmp_path / "bad.env")
