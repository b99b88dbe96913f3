"""Keeping the embedded Redis Cluster's nodes running under the supervisor.

A dead node is restarted with the same backoff rules as any process, with one
twist: a dead *master* is restarted only once the cluster has promoted its
replica (or after ``failover_wait`` seconds, if no replica could take over).
Brought back earlier, it would reclaim its slots before anyone noticed it was
gone; brought back after, its nodes.conf and the cluster's newer epoch make it
rejoin as a replica of the node that took over -- which is what a failover
experiment wants to observe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stateline.local.control import ControlError
from stateline.local.redis_cluster import EmbeddedRedisCluster
from stateline.local.restart_policy import GiveUp, RestartPolicy, RestartState


@dataclass
class _Pending:
    restart_at: float
    give_up_waiting_at: float


class RedisWatch:
    def __init__(self, cluster: EmbeddedRedisCluster, policy: RestartPolicy,
                 failover_wait: float = 10.0) -> None:
        self.cluster = cluster
        self.policy = policy
        self.failover_wait = failover_wait
        now = time.monotonic()
        self._states = {n: policy.started(RestartState(), now) for n in self.node_ids()}
        self._pending: dict[str, _Pending] = {}
        self._requested: set[str] = set()
        self._failed: dict[str, str] = {}

    def node_ids(self) -> list[str]:
        return self.cluster.topology.node_ids() if self.cluster.topology else []

    def kill(self, node_id: str) -> int:
        """SIGKILL a node on request; it is restarted without counting as a crash."""
        if node_id in self._pending:
            raise ControlError("not_running", f"{node_id} is not running (it is being restarted)")
        if node_id in self._failed:
            raise ControlError("not_running", f"{node_id} is not running (state failed); "
                               f"start it again with `stateline restart {node_id}`")
        self._requested.add(node_id)
        return self.cluster.kill(node_id)

    def revive(self, node_id: str) -> int:
        """Start a ``failed`` node again with a clean crash record; returns its new pid.

        This is ``stateline restart redis-K``: the policy gave up on the node,
        the user has looked at its log and wants it back. A running node is
        refused (``stateline kill`` bounces one), and so is a node already
        waiting for its restart.
        """
        if node_id in self._pending:
            raise ControlError("already_restarting", f"{node_id} is already being restarted "
                               "(once the cluster has covered its slots)")
        if node_id not in self._failed:
            raise ControlError("running", f"{node_id} is running; to bounce it, use "
                               f"`stateline kill {node_id}`")
        del self._failed[node_id]
        self._requested.discard(node_id)
        pid = self.cluster.restart(node_id, wait=False)
        fresh = RestartState(restarts=self._states[node_id].restarts + 1)
        self._states[node_id] = self.policy.started(fresh, time.monotonic())
        return pid

    async def tick(self, note: Callable[[str], None]) -> None:
        """Notice exits and restart nodes that are due; call it every monitor tick."""
        now = time.monotonic()
        for node_id in self.cluster.exited():
            if node_id in self._pending or node_id in self._failed:
                continue
            requested = node_id in self._requested
            self._requested.discard(node_id)
            self._states[node_id], decision = self.policy.exited(
                self._states[node_id], now, requested)
            if isinstance(decision, GiveUp):
                self._failed[node_id] = decision.reason
                note(f"[red]{node_id} {decision.reason}[/]")
                continue
            if not requested:
                note(f"{node_id} exited; restarting once the cluster has covered its slots")
            self._pending[node_id] = _Pending(decision.at, now + self.failover_wait)
        for node_id, pending in list(self._pending.items()):
            if now < pending.restart_at:
                continue
            replaced = await asyncio.to_thread(self._slots_covered_without, node_id)
            if not replaced and now < pending.give_up_waiting_at:
                continue
            del self._pending[node_id]
            # Spawn on the loop's (main) thread: the child's death signal follows it.
            pid = self.cluster.restart(node_id, wait=False)
            self._states[node_id] = self.policy.started(self._states[node_id], time.monotonic())
            note(f"{node_id} restarted as pid {pid}")

    def _slots_covered_without(self, node_id: str) -> bool:
        """True once the other live nodes include a full set of masters."""
        others = [n for n in self.cluster.nodes if n.id != node_id]
        return sum(n.role == "master" for n in others) >= self.cluster.masters

    async def status(self) -> list[dict[str, Any]]:
        nodes = await asyncio.to_thread(lambda: self.cluster.nodes)
        rows: list[dict[str, Any]] = []
        for n in nodes:
            if n.id in self._failed:
                state = "failed"
            elif n.id in self._pending:
                state = "backoff"
            else:
                state = "up" if n.role != "down" else "starting"
            rows.append({
                "role": f"redis-{n.role}" if n.role in ("master", "replica") else "redis",
                "id": n.id, "pid": n.pid, "address": n.address, "state": state,
                "restarts": self._states[n.id].restarts,
                "log": str(self.cluster.data_dir / "logs" / f"{n.id}.log"),
                **({"reason": self._failed[n.id]} if n.id in self._failed else {}),
            })
        return rows
