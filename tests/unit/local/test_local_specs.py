"""How the supervisor builds its children's command lines and environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from stateline.local.specs import StatelineCommands, app_spec, child_environ, gateway_spec
from stateline.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings(data_dir=Path("/srv/sl"), port=9000, redis_url="redis://127.0.0.1:1/0",
                    registry_url="redis://127.0.0.1:1/0", database_url="sqlite:////srv/sl/x.db",
                    shards=0)  # the one-pool gateway form; the shards form: test_local_gateway_toml


def test_stale_settings_in_the_shell_are_replaced_but_other_knobs_pass_through(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STATELINE_INSTANCE_ID", "stale")
    monkeypatch.setenv("STATELINE_REDIS_URL", "redis://elsewhere:6379")
    monkeypatch.setenv("STATELINE_DRAIN_GRACE_S", "2.5")
    app_env = child_environ(settings, "app-2")
    assert app_env["STATELINE_INSTANCE_ID"] == "app-2"
    assert app_env["STATELINE_REDIS_URL"] == "redis://127.0.0.1:1/0"
    assert app_env["STATELINE_DRAIN_GRACE_S"] == "2.5"
    assert "STATELINE_INSTANCE_ID" not in child_environ(settings)


def test_app_and_gateway_specs_follow_the_architecture_contract(settings: Settings) -> None:
    commands = StatelineCommands(python="py")
    app = app_spec(commands, settings, "app-3", 4567)
    assert app.argv == ("py", "-m", "stateline", "app", "--host", "127.0.0.1", "--port", "4567",
                        "--instance-id", "app-3")
    assert app.env["STATELINE_DATA_DIR"] == "/srv/sl"
    assert app.env["STATELINE_REGISTRY_URL"] == "redis://127.0.0.1:1/0"
    assert app.log_path == Path("/srv/sl/logs/app-3.log")
    gw = gateway_spec(commands, settings, 9000)
    assert gw.argv == ("py", "-m", "stateline", "gateway", "--listen", "127.0.0.1:9000",
                       "--registry", "redis://127.0.0.1:1/0", "--pool", "apps")
    assert gw.address == "127.0.0.1:9000"
