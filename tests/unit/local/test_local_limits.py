"""The bounds on `up --port/--apps` and `scale apps=N`, checked before anything starts."""

from __future__ import annotations

import pytest

from stateline.local.commands import parse_scale
from stateline.local.limits import MAX_APPS, apps_problem, port_problem


@pytest.mark.parametrize("port", [1, 8080, 65535])
def test_ports_from_1_to_65535_are_accepted(port: int) -> None:
    assert port_problem(port) is None


@pytest.mark.parametrize("port", [0, -1, 65536, 70000])
def test_port_zero_negative_or_too_big_is_refused_in_one_line(port: int) -> None:
    assert port_problem(port) == f"--port must be from 1 to 65535 (got {port})"


def test_apps_must_be_at_least_one_and_at_most_the_machine_limit() -> None:
    assert apps_problem(1) is None and apps_problem(MAX_APPS) is None
    assert apps_problem(0) == "apps must be ≥ 1 (got 0)"
    assert apps_problem(-1, "--apps") == "--apps must be ≥ 1 (got -1)"
    assert apps_problem(MAX_APPS + 1) == f"apps must be ≤ {MAX_APPS} on one machine (got 65)"


@pytest.mark.parametrize("spec, expected", [
    ("apps=5", 5), (" apps = 2 ", 2),
    ("apps=-1", "apps must be ≥ 1 (got -1)"),
    ("apps=0", "apps must be ≥ 1 (got 0)"),
    ("apps=65", "apps must be ≤ 64 on one machine (got 65)"),
])
def test_scale_spec_parses_or_says_what_is_allowed(spec: str, expected: int | str) -> None:
    assert parse_scale(spec) == expected


@pytest.mark.parametrize("spec", ["5", "app=5", "apps=", "apps=x", "apps=2.5"])
def test_malformed_scale_spec_shows_the_form(spec: str) -> None:
    answer = parse_scale(spec)
    assert isinstance(answer, str) and answer.startswith("write it as apps=N")
