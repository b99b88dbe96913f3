"""Port choice and the saved topology of the embedded Redis Cluster."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from stateline.local.redis_cluster import (
    SLOTS,
    parse_cluster_info,
    parse_cluster_nodes,
    slot_ranges,
)
from stateline.local.topology import (
    CLUSTER_BUS_OFFSET,
    PORT_RANGE,
    RedisTopology,
    choose_ports,
    load_or_choose,
)


def test_chosen_ports_have_free_buses_and_never_overlap_each_other() -> None:
    busy = set(range(PORT_RANGE[0], PORT_RANGE[0] + 5000, 2))
    ports = choose_ports(6, lambda p: p not in busy, random.Random(7))
    assert len(set(ports)) == 6
    used = set(ports) | {p + CLUSTER_BUS_OFFSET for p in ports}
    assert len(used) == 12
    assert not used & busy
    assert all(PORT_RANGE[0] <= p <= PORT_RANGE[1] for p in ports)
    assert all(p + CLUSTER_BUS_OFFSET < 32768 for p in ports)  # below the ephemeral range


def test_choose_ports_gives_up_clearly_when_nothing_is_free() -> None:
    with pytest.raises(RuntimeError, match="free port pairs"):
        choose_ports(6, lambda p: False, random.Random(1), attempts=50)


def test_topology_is_saved_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "topology.json"
    first, new = load_or_choose(path, 6, 3, lambda p: True)
    again, new_again = load_or_choose(path, 6, 3, lambda p: False)
    assert new and not new_again
    assert again == first
    assert again.node_ids() == [f"redis-{i}" for i in range(1, 7)]


def test_port_of_unknown_node_names_the_known_ones() -> None:
    topo = RedisTopology(ports=(1, 2), masters=1)
    assert topo.port_of("redis-2") == 2
    with pytest.raises(KeyError, match="redis-1, redis-2"):
        topo.port_of("redis-3")


@pytest.mark.parametrize("masters", [1, 2, 3, 5])
def test_slot_ranges_cover_every_slot_exactly_once(masters: int) -> None:
    ranges = slot_ranges(masters)
    covered = [s for low, high in ranges for s in range(low, high + 1)]
    assert covered == list(range(SLOTS))


def test_cluster_replies_are_parsed() -> None:
    info = parse_cluster_info("cluster_state:ok\r\ncluster_slots_ok:16384\r\n")
    assert info == {"cluster_state": "ok", "cluster_slots_ok": "16384"}
    nodes = parse_cluster_nodes(
        "abc 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
        "def 127.0.0.1:7003@17003 slave abc 0 1 1 connected\n")
    assert nodes[0]["addr"] == "127.0.0.1:7000" and "myself" in nodes[0]["flags"]
    assert nodes[1]["master"] == "abc" and nodes[1]["link"] == "connected"
