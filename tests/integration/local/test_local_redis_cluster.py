"""The embedded Redis Cluster: formed healthy, fails over, comes back with its data."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from stateline.local import topology
from stateline.local.redis_cluster import SLOTS, ClusterError, EmbeddedRedisCluster
from stateline.stores.redis import connect_sync


@pytest.fixture
def cluster(own_redis_cluster: EmbeddedRedisCluster) -> EmbeddedRedisCluster:
    return own_redis_cluster


def _my_ids(cluster: EmbeddedRedisCluster) -> list[bytes]:
    return [redis.Redis(port=p, password=cluster.password).execute_command("CLUSTER", "MYID")
            for p in cluster.ports]


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_new_cluster_has_three_masters_each_with_a_replica_and_all_slots(
    cluster: EmbeddedRedisCluster,
) -> None:
    roles = sorted(n.role for n in cluster.nodes)
    assert roles == ["master"] * 3 + ["replica"] * 3
    info = cluster.cluster_info("redis-1")
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_slots_ok"]) == SLOTS
    assert cluster.is_healthy()
    assert all(n.pid for n in cluster.nodes)


def test_keys_spread_over_all_masters(cluster: EmbeddedRedisCluster) -> None:
    client = connect_sync(cluster.url)
    for i in range(60):
        client.set(f"spread:{i}", i)
    client.close()
    masters = [n for n in cluster.nodes if n.role == "master"]
    counts = [redis.Redis(port=n.port, password=cluster.password).dbsize() for n in masters]
    assert len(counts) == 3
    assert all(count > 0 for count in counts)
    assert sum(counts) == 60


def test_files_and_logs_live_under_the_data_dir(cluster: EmbeddedRedisCluster) -> None:
    topo = json.loads((cluster.data_dir / "topology.json").read_text())
    assert topo["redis"]["ports"] == cluster.ports
    for port in cluster.ports:
        assert (cluster.data_dir / "redis" / str(port) / "nodes.conf").exists()
    assert (cluster.data_dir / "logs" / "redis-1.log").stat().st_size > 0


@pytest.mark.slow
def test_killed_master_is_replaced_by_its_replica_and_rejoins_as_replica(
    cluster: EmbeddedRedisCluster,
) -> None:
    client = connect_sync(cluster.url)
    client.set("failover:key", "kept")
    victim = next(n for n in cluster.nodes if n.role == "master")
    cluster.kill(victim.id)
    assert victim.id in cluster.exited()

    def promoted() -> bool:
        live = [n for n in cluster.nodes if n.id != victim.id]
        masters = [n for n in live if n.role == "master"]
        return len(masters) == 3 and cluster.cluster_info(live[0].id)["cluster_state"] == "ok"

    assert _wait(promoted, 15), "no replica took over the killed master's slots"

    cluster.restart(victim.id)
    assert _wait(lambda: cluster.is_healthy(), 15)
    assert {n.id: n.role for n in cluster.nodes}[victim.id] == "replica"
    fresh = connect_sync(cluster.url)
    assert fresh.get("failover:key") == b"kept"
    fresh.close()
    client.close()


def test_restart_on_same_data_dir_keeps_ports_cluster_identity_and_data(tmp_path: Path) -> None:
    first = EmbeddedRedisCluster(tmp_path / "data")
    first.start()
    try:
        client = connect_sync(first.url)
        for i in range(50):
            client.set(f"persist:{i}", i)
        client.close()
        ids_before = _my_ids(first)
        url, ports = first.url, first.ports
    finally:
        first.stop()
    assert first.exited() == []  # stop forgets its processes

    second = EmbeddedRedisCluster(tmp_path / "data")
    second.start()
    try:
        assert second.url == url and second.ports == ports
        assert _my_ids(second) == ids_before  # the same cluster, not a re-formed one
        client = connect_sync(second.url)
        assert [client.get(f"persist:{i}") for i in range(50)] == [
            str(i).encode() for i in range(50)]
        client.close()
    finally:
        second.stop()


def test_second_cluster_on_a_busy_data_dir_fails_with_a_clear_error(
    cluster: EmbeddedRedisCluster,
) -> None:
    other = EmbeddedRedisCluster(cluster.data_dir)
    with pytest.raises(ClusterError, match="already in use"):
        other.start()
    assert cluster.is_healthy()


def test_new_cluster_that_loses_a_port_race_retries_on_fresh_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_choose = topology.choose_ports
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))  # bound, not listening: redis-server cannot bind it
        taken = squatter.getsockname()[1]
        calls: list[tuple[int, ...]] = []

        def choose_then_lose_the_race(count: int, is_free: Callable[[int], bool]
                                      ) -> tuple[int, ...]:
            ports = real_choose(count, is_free)
            if not calls:  # first draw: one port is grabbed by someone else meanwhile
                ports = (taken, *ports[1:])
            calls.append(ports)
            return ports

        monkeypatch.setattr(topology, "choose_ports", choose_then_lose_the_race)
        cluster = EmbeddedRedisCluster(tmp_path / "data")
        cluster.start()
        try:
            assert len(calls) == 2
            assert taken not in cluster.ports
            assert cluster.is_healthy()
        finally:
            cluster.stop()
