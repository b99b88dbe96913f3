"""Redis URLs with credentials: parsed, hidden from humans and argv, filled from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from stateline.local.specs import StatelineCommands, gateway_spec
from stateline.settings import Settings
from stateline.stores.redis import (
    PASSWORD_ENV,
    USERNAME_ENV,
    _env_credentials,
    cluster_url,
    credentials,
    redacted,
    without_credentials,
)

CLUSTER = "redis+cluster://:s3cret@127.0.0.1:1,127.0.0.1:2"


@pytest.mark.parametrize(("url", "expected"), [
    ("redis://127.0.0.1:1/0", (None, None)),
    ("redis://:pw@127.0.0.1:1/0", (None, "pw")),
    ("redis://ada:pw@127.0.0.1:1/0", ("ada", "pw")),
    ("redis://ada:p%40ss@h:1", ("ada", "p@ss")),
    (CLUSTER, (None, "s3cret")),
])
def test_credentials_are_read_from_single_and_cluster_urls(
        url: str, expected: tuple[str | None, str | None]) -> None:
    assert credentials(url) == expected


def test_a_url_shown_or_put_on_argv_never_carries_the_password() -> None:
    assert without_credentials(CLUSTER) == "redis+cluster://127.0.0.1:1,127.0.0.1:2"
    assert redacted(CLUSTER) == "redis+cluster://:***@127.0.0.1:1,127.0.0.1:2"
    assert redacted("redis://ada:pw@h:1/0") == "redis://ada:***@h:1/0"
    assert redacted("redis://h:1/0") == "redis://h:1/0"
    assert cluster_url([("h", 1)], "x") == "redis+cluster://:x@h:1"


def test_the_environment_fills_in_a_password_only_where_the_url_has_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    monkeypatch.setenv(USERNAME_ENV, "ada")
    assert _env_credentials("redis://h:1", {}) == {"password": "from-env", "username": "ada"}
    assert _env_credentials("redis://:url@h:1", {}) == {}
    assert _env_credentials("redis://h:1", {"password": "given"}) == {"password": "given"}
    monkeypatch.delenv(PASSWORD_ENV)
    assert _env_credentials("redis://h:1", {}) == {}


def test_the_gateway_gets_its_registry_password_in_its_environment_not_its_argv() -> None:
    settings = Settings(data_dir=Path("/srv/sl"), redis_url=CLUSTER, registry_url=CLUSTER,
                        shards=0)  # the flag form; with shards: test_local_gateway_toml
    gw = gateway_spec(StatelineCommands(python="py"), settings, 9000)
    assert not any("s3cret" in arg for arg in gw.argv)
    assert "redis+cluster://127.0.0.1:1,127.0.0.1:2" in gw.argv
    assert gw.env[PASSWORD_ENV] == "s3cret"
