"""Validation of control-socket requests (the pure part of local/control.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stateline.local.control import MAX_APPS, ControlError, NotRunning, Request, parse_request


@pytest.mark.parametrize("obj, expected", [
    ({"cmd": "status"}, Request("status")),
    ({"cmd": "down"}, Request("down")),
    ({"cmd": "scale", "apps": 1}, Request("scale", apps=1)),
    ({"cmd": "scale", "apps": MAX_APPS}, Request("scale", apps=MAX_APPS)),
    ({"cmd": "kill", "id": "redis-2"}, Request("kill", id="redis-2")),
    ({"cmd": "restart", "id": "app-2"}, Request("restart", id="app-2")),
])
def test_valid_requests_parse(obj: object, expected: Request) -> None:
    assert parse_request(obj) == expected


@pytest.mark.parametrize("obj", [
    [], "status", {}, {"cmd": 3},
    {"cmd": "scale"}, {"cmd": "scale", "apps": -1}, {"cmd": "scale", "apps": 0},
    {"cmd": "scale", "apps": MAX_APPS + 1}, {"cmd": "restart"}, {"cmd": "restart", "id": ""},
    {"cmd": "scale", "apps": "3"}, {"cmd": "scale", "apps": True}, {"cmd": "scale", "apps": 2.0},
    {"cmd": "kill"}, {"cmd": "kill", "id": ""}, {"cmd": "kill", "id": 7},
])
def test_malformed_requests_are_bad_requests(obj: object) -> None:
    with pytest.raises(ControlError) as err:
        parse_request(obj)
    assert err.value.code == "bad_request"


def test_scale_below_one_says_apps_must_be_at_least_one() -> None:
    with pytest.raises(ControlError, match="apps must be ≥ 1 \\(got -1\\)"):
        parse_request({"cmd": "scale", "apps": -1})


def test_unknown_command_names_the_known_ones() -> None:
    with pytest.raises(ControlError) as err:
        parse_request({"cmd": "reboot"})
    assert err.value.code == "unknown_command"
    assert "status, scale, kill, restart, down" in err.value.message


def test_nothing_running_names_the_absolute_data_dir_and_how_to_point_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    message = NotRunning(Path(".stateline")).message
    assert f"nothing is running on {tmp_path.resolve() / '.stateline'};" in message
    assert "`stateline up`" in message
    assert "--data-dir DIR or set STATELINE_DATA_DIR" in message
    assert "`stateline up --data-dir /srv/x`" in NotRunning(Path("/srv/x")).message
