"""Fixtures: the overlays of deploy/kubernetes/, rendered once per session.

The production overlay reads its Secret from ``secrets.env``, which is never
committed; the fixture renders a copy of the tree in which it is made from
``secrets.env.example``, as an operator would.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from k8s_checks import KUSTOMIZE, OVERLAYS
from k8s_render import Obj, render


@pytest.fixture(scope="session")
def kustomize_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/kubernetes/ with production/secrets.env filled from the example."""
    tree = tmp_path_factory.mktemp("kustomize") / "kubernetes"
    shutil.copytree(KUSTOMIZE, tree, ignore=shutil.ignore_patterns("secrets.env"))
    shutil.copy(tree / "production" / "secrets.env.example", tree / "production" / "secrets.env")
    return tree


@pytest.fixture(scope="session")
def _rendered(kustomize_tree: Path) -> dict[str, list[Obj]]:
    return {name: render(kustomize_tree / name) for name in OVERLAYS}


@pytest.fixture
def rendered(_rendered: dict[str, list[Obj]]) -> dict[str, list[Obj]]:
    """Each overlay's objects; a fresh copy per test, so a test may change them."""
    return copy.deepcopy(_rendered)
