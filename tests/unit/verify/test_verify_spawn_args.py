"""How spawned replicas are described, before any process exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from stateline.verify.spawn import ReplicaSet, SpawnedReplica, SpawnError, UrlReplica


def test_the_command_gets_the_port_and_replica_number_and_runs_under_a_shell() -> None:
    r = SpawnedReplica(command="app --port {port} --id app-{replica}", number=2, port=8123,
                       log_dir=Path("/tmp"))
    assert r.argv == ["/bin/sh", "-c", "app --port 8123 --id app-2"]
    assert r.url == "http://127.0.0.1:8123"
    assert r.label == "replica 2 (127.0.0.1:8123)"


@pytest.mark.parametrize(("command", "count"), [("app --port 80", 2), ("app {port}", 1)])
def test_a_replica_set_needs_a_port_placeholder_and_two_replicas(command: str, count: int) -> None:
    with pytest.raises(ValueError):
        ReplicaSet(command, count)


def test_replicas_given_as_urls_cannot_be_restarted() -> None:
    r = UrlReplica(url="http://127.0.0.1:9", label="replica 1")
    assert r.can_restart is False
    with pytest.raises(SpawnError):
        r.restart()
