"""Which ports the embedded Redis Cluster uses, chosen once per data dir.

A Redis Cluster node remembers its peers by address in ``nodes.conf``; if the
nodes came back on other ports after a restart, the saved cluster would point
at nothing. So the ports are picked once, written to ``DATA_DIR/topology.json``
and reused on every later start.

Each node also needs ``port + 10000`` (the cluster bus). Ports are drawn below
the kernel's ephemeral range (32768+) so that neither a node nor its bus can be
taken by an outgoing connection or a ``bind(0)`` elsewhere in the meantime.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLUSTER_BUS_OFFSET = 10000
#: Client ports are drawn from here; their buses land in 22000..32767.
PORT_RANGE = (12000, 22767)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RedisTopology:
    """The saved shape of an embedded cluster: node ids and their ports, in order.

    ``ports[i]`` belongs to node ``redis-{i+1}``. The first ``masters`` nodes
    start as masters, the rest as replicas (``redis-{masters+k}`` replicates
    ``redis-{k}``); after failovers the live roles may differ, which is why
    roles are read from ``CLUSTER NODES`` rather than from here.
    """

    ports: tuple[int, ...]
    masters: int = 3

    def node_ids(self) -> list[str]:
        return [f"redis-{i + 1}" for i in range(len(self.ports))]

    def port_of(self, node_id: str) -> int:
        ids = self.node_ids()
        if node_id not in ids:
            raise KeyError(f"no Redis node {node_id!r} (have {', '.join(ids)})")
        return self.ports[ids.index(node_id)]

    def to_json(self) -> str:
        return json.dumps(
            {"version": FORMAT_VERSION, "redis": {"ports": list(self.ports),
                                                 "masters": self.masters}},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> RedisTopology:
        data = json.loads(text)
        redis = data["redis"]
        return cls(ports=tuple(int(p) for p in redis["ports"]), masters=int(redis["masters"]))


def choose_ports(
    count: int,
    is_free: Callable[[int], bool],
    rng: random.Random | None = None,
    attempts: int = 2000,
) -> tuple[int, ...]:
    """``count`` distinct ports where both ``port`` and ``port + 10000`` are free."""
    rng = rng or random.Random()
    low, high = PORT_RANGE
    chosen: list[int] = []
    taken: set[int] = set()
    for _ in range(attempts):
        port = rng.randint(low, high)
        if {port, port + CLUSTER_BUS_OFFSET} & taken:
            continue
        if is_free(port) and is_free(port + CLUSTER_BUS_OFFSET):
            chosen.append(port)
            taken.update({port, port + CLUSTER_BUS_OFFSET})
            if len(chosen) == count:
                return tuple(chosen)
    raise RuntimeError(f"could not find {count} free port pairs in {low}..{high}")


def read_sections(path: Path) -> dict[str, Any]:
    """The topology file's sections (``redis``, ``blobs``, ...); empty if there is none yet."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def save_section(path: Path, name: str, value: Any) -> None:
    """Write one section, keeping the others (the file is replaced atomically)."""
    data = {"version": FORMAT_VERSION, **read_sections(path), name: value}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(data, indent=2))
    tmp.replace(path)


def load_or_choose(
    path: Path, count: int, masters: int, is_free: Callable[[int], bool]
) -> tuple[RedisTopology, bool]:
    """The saved topology at ``path``, or a new one saved there. Returns (topology, is_new).

    Other sections of the file (the blob server's ports) are kept as they are.
    """
    if "redis" in read_sections(path):
        return RedisTopology.from_json(path.read_text()), False
    topo = RedisTopology(ports=choose_ports(count, is_free), masters=masters)
    save_section(path, "redis", json.loads(topo.to_json())["redis"])
    return topo, True
