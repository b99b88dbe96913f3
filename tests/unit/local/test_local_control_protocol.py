"""Validation of control-socket requests (the pure part of local/control.py)."""

from __future__ import annotations

import pytest

from stateline.local.control import MAX_APPS, ControlError, Request, parse_request


@pytest.mark.parametrize("obj, expected", [
    ({"cmd": "status"}, Request("status")),
    ({"cmd": "down"}, Request("down")),
    ({"cmd": "scale", "apps": 0}, Request("scale", apps=0)),
    ({"cmd": "scale", "apps": MAX_APPS}, Request("scale", apps=MAX_APPS)),
    ({"cmd": "kill", "id": "redis-2"}, Request("kill", id="redis-2")),
])
def test_valid_requests_parse(obj: object, expected: Request) -> None:
    assert parse_request(obj) == expected


@pytest.mark.parametrize("obj", [
    [], "status", {}, {"cmd": 3},
    {"cmd": "scale"}, {"cmd": "scale", "apps": -1}, {"cmd": "scale", "apps": MAX_APPS + 1},
    {"cmd": "scale", "apps": "3"}, {"cmd": "scale", "apps": True}, {"cmd": "scale", "apps": 2.0},
    {"cmd": "kill"}, {"cmd": "kill", "id": ""}, {"cmd": "kill", "id": 7},
])
def test_malformed_requests_are_bad_requests(obj: object) -> None:
    with pytest.raises(ControlError) as err:
        parse_request(obj)
    assert err.value.code == "bad_request"


def test_unknown_command_names_the_known_ones() -> None:
    with pytest.raises(ControlError) as err:
        parse_request({"cmd": "restart"})
    assert err.value.code == "unknown_command"
    assert "status, scale, kill, down" in err.value.message
