"""File discovery, module naming and suppression comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from stateline.lint.index import hot_lines
from stateline.lint.source import PathError, discover, module_name, parse_suppressions


def test_module_names_climb_packages_and_stop_at_plain_folders(tmp_path: Path) -> None:
    pkg = tmp_path / "proj" / "shop" / "api"
    pkg.mkdir(parents=True)
    (tmp_path / "proj" / "shop" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "views.py").write_text("")
    assert module_name(pkg / "views.py") == ("shop.api.views", tmp_path / "proj")
    assert module_name(pkg / "__init__.py") == ("shop.api", tmp_path / "proj")


def test_discovery_skips_tool_folders_and_rejects_missing_paths(tmp_path: Path) -> None:
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "x.py").write_text("")
    (tmp_path / "app.py").write_text("")
    assert discover([tmp_path]) == [tmp_path / "app.py"]
    with pytest.raises(PathError):
        discover([tmp_path / "nope"])


def test_suppressions_take_ids_or_names_and_keep_the_reason() -> None:
    sup = parse_suppressions(["x = 1", "X += 1  # stateline: allow[SL101, global-rebind] demo",
                              "Y.append(1)  # stateline: allow[SL102]"])
    assert sup[2].rules == frozenset({"SL101", "global-rebind"})
    assert sup[2].reason == "demo"
    assert sup[3].reason == ""


def test_hot_lines_find_registration_calls_not_lookalike_names() -> None:
    text = "app.add_url_rule('/x', view_func=f)\nmy_path = 1\nurlpatterns = [path('a', v)]\n"
    assert hot_lines(text) == [1, 3]
