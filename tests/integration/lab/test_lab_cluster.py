"""Moving slots on a real Redis Cluster while a counting client works."""

from __future__ import annotations

import pytest

from stateline.lab.cluster import CountingClient, cluster_nodes
from stateline.lab.experiments.resharding import KEY_PREFIX, Workload, migrate_slot, preload
from stateline.local.redis_cluster import EmbeddedRedisCluster


@pytest.fixture
def cluster(own_redis_cluster: EmbeddedRedisCluster) -> EmbeddedRedisCluster:
    return own_redis_cluster


@pytest.mark.slow
def test_migrating_slots_under_load_redirects_clients_without_errors_or_lost_keys(cluster):
    seeds = [f"127.0.0.1:{p}" for p in cluster.ports]
    pw = cluster.password
    client = CountingClient(seeds, password=pw)
    preload(client, 3000)
    masters = [n for n in cluster_nodes(seeds[0], password=pw) if n.role == "master"]
    src, dst = masters[0], masters[1]
    slots = list(range(src.slots[0][0], src.slots[0][0] + 60))
    work = Workload(client, 3000)
    work.start()
    moved_keys = sum(migrate_slot(s, src, dst, masters, password=pw) for s in slots)
    # read every key of the moved slots once more, so stale routes are certainly hit
    for i in range(3000):
        k = f"{KEY_PREFIX}{i}".encode()
        assert client.execute("GET", k, key=k) == str(i).encode()
    work.stop()
    assert moved_keys > 0
    assert client.moved > 0
    assert work.errors == {} and work.missing == 0
    owners = {n.addr: n.slots for n in cluster_nodes(seeds[0], password=pw) if n.role == "master"}
    assert any(lo <= slots[0] <= hi for lo, hi in owners[dst.addr])
    client.close()
