"""The two-pool gateway configuration `stateline up` writes when it runs rooms shards."""

from __future__ import annotations

import stat
from pathlib import Path

from stateline.gateway.balancers.keys import KeySource
from stateline.gateway.config import load_file
from stateline.local.control import ControlError, parse_request
from stateline.local.specs import StatelineCommands, gateway_spec, shard_spec
from stateline.settings import Settings


def _settings(tmp_path: Path, shards: int = 3) -> Settings:
    return Settings(data_dir=tmp_path, port=9000, shards=shards,
                    redis_url="redis+cluster://127.0.0.1:7001,127.0.0.1:7002",
                    registry_url="redis+cluster://127.0.0.1:7001,127.0.0.1:7002")


def test_rooms_go_to_the_shards_pool_by_rendezvous_on_the_room_id(tmp_path: Path) -> None:
    gw = gateway_spec(StatelineCommands(python="py"), _settings(tmp_path), 9000)
    config_path = tmp_path / "gateway.toml"
    assert gw.argv == ("py", "-m", "stateline", "gateway", "--config", str(config_path),
                       "--listen", "127.0.0.1:9000")
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600  # it holds the Redis URL
    cfg = load_file(config_path)
    routes = {r.prefix: r.pool for r in cfg.routes}
    assert routes == {"/api/rooms/": "shards", "/": "apps"}
    shards = cfg.pools["shards"]
    assert (shards.registry, shards.policy, shards.key) == ("shards", "rendezvous", "path:3")
    assert cfg.pools["apps"].policy == "round_robin"
    key = KeySource.parse(shards.key)
    assert key.extract(b"/api/rooms/lobby-7/players/ada/position", []) == b"lobby-7"
    assert cfg.redis_url == "redis+cluster://127.0.0.1:7001,127.0.0.1:7002"


def test_the_config_file_carries_no_redis_password(tmp_path: Path) -> None:
    url = "redis+cluster://:s3cret@127.0.0.1:7001,127.0.0.1:7002"
    settings = _settings(tmp_path).with_(redis_url=url, registry_url=url)
    gw = gateway_spec(StatelineCommands(python="py"), settings, 9000)
    text = (tmp_path / "gateway.toml").read_text()
    assert "s3cret" not in text and "s3cret" not in " ".join(gw.argv)
    assert load_file(tmp_path / "gateway.toml").redis_url == (
        "redis+cluster://127.0.0.1:7001,127.0.0.1:7002")
    assert gw.env["STATELINE_REDIS_PASSWORD"] == "s3cret"


def test_a_shard_registers_in_the_shards_pool(tmp_path: Path) -> None:
    spec = shard_spec(StatelineCommands(python="py"), _settings(tmp_path), "shard-2", 4321)
    assert spec.argv == ("py", "-m", "stateline", "shard", "--host", "127.0.0.1", "--port",
                         "4321", "--instance-id", "shard-2")
    assert spec.env["STATELINE_POOL"] == "shards"
    assert spec.env["STATELINE_INSTANCE_ID"] == "shard-2"
    assert spec.role == "shard" and spec.log_path == tmp_path / "logs" / "shard-2.log"


def test_scale_shards_is_validated_like_scale_apps() -> None:
    assert parse_request({"cmd": "scale", "shards": 4}).shards == 4
    assert parse_request({"cmd": "scale", "shards": 0}).shards == 0
    for bad in (-1, 17, "3", True):
        try:
            parse_request({"cmd": "scale", "shards": bad})
        except ControlError as exc:
            assert exc.code == "bad_request"
        else:
            raise AssertionError(f"shards={bad!r} was accepted")
