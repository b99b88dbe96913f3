"""A pool: its members, their health, a balancer and the candidate list it reads.

The pool is where the control plane's tables meet the data plane: membership
(static or from the registry) and admin actions change ``members`` and
``health``; the hot path only calls :meth:`pick`, which reuses one candidate
list per ``PoolHealth.version`` (balancers cache their tables on that list's
identity) and builds a filtered copy only for a retry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from stateline.gateway.balancers import create_balancer
from stateline.gateway.balancers.keys import KeySource
from stateline.gateway.config import PoolConfig
from stateline.gateway.health import Outcome, PoolHealth, Transition
from stateline.gateway.metrics import PoolMetrics
from stateline.gateway.retry import RetryBudget
from stateline.gateway.upstream import Upstream


class Pool:
    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self.name = config.name
        self.balancer = create_balancer(config.policy)
        self.key_source = KeySource.parse(config.key) if config.key else None
        self.needs_key = self.balancer.needs_key and self.key_source is not None
        self.health = PoolHealth(config.outlier)
        self.budget = RetryBudget(config.retry_budget_percent, config.min_retry_concurrency)
        self.metrics = PoolMetrics()
        self.members: dict[str, Upstream] = {}
        self.transitions: list[Transition] = []  # recent, for /_stateline/pools
        self._version = -1
        self._candidates: list[Upstream] = []

    # -- membership ------------------------------------------------------------

    def add(self, id: str, address: str, weight: int | None = None) -> Upstream:
        existing = self.members.get(id)
        if existing is not None and existing.address == address:
            return existing
        if existing is not None:
            self.remove(id)
        up = Upstream(
            id, address, weight=weight or self.config.weights.get(address, 1),
            connect_timeout=self.config.connect_timeout,
            max_idle=self.config.max_idle_per_upstream,
        )
        self.members[id] = up
        self.health.add(id)
        return up

    def remove(self, id: str) -> None:
        """Forget a member: no new requests; in-flight ones finish on their connections."""
        up = self.members.pop(id, None)
        if up is not None:
            up.removed = True
            up.close_idle()
            self.health.remove(id)

    def set_draining(self, id: str, draining: bool) -> None:
        if id in self.members:
            self.health.set_draining(id, draining)

    # -- hot path --------------------------------------------------------------

    def candidates(self) -> list[Upstream]:
        """Members that may get new requests (one list object per health version).

        When too few members are available the pool "panics" like Envoy and
        routes to all non-draining ones (see ``health`` for the rule), rather
        than answer 503 to everyone on the strength of health data that
        condemns most of the pool.
        """
        if self._version != self.health.version:
            routable = self.health.routable_ids()
            self._candidates = [u for u in self.members.values() if u.id in routable]
            self.metrics.panic = self.health.panic
            self.metrics.panics = self.health.panics_total
            self._version = self.health.version
        return self._candidates

    def pick(self, key: bytes | None, tried: Sequence[str]) -> Upstream | None:
        cands: Sequence[Upstream] = (
            self._candidates if self._version == self.health.version else self.candidates())
        if tried:
            cands = [u for u in cands if u.id not in tried]
        return self.balancer.pick(cands, key)  # type: ignore[return-value]

    def record(self, id: str, outcome: Outcome, now: float) -> None:
        t = self.health.record(id, outcome, now)
        if t is not None:
            self.note(t)

    def note(self, t: Transition) -> None:
        self.transitions.append(t)
        del self.transitions[:-20]

    def tick(self, now: float) -> None:
        for t in self.health.tick(now):
            self.note(t)

    def snapshot(self) -> dict[str, object]:
        now = time.monotonic()
        health = self.health.snapshot(now)
        return {
            "name": self.name,
            "policy": self.config.policy,
            "key": self.config.key,
            "members": [
                {"id": u.id, "address": u.address, "weight": u.weight,
                 "outstanding": u.outstanding, "idle_connections": len(u.idle),
                 "requests": u.metrics.requests, "errors": dict(u.metrics.errors),
                 **health.get(u.id, {})}
                for u in self.members.values()
            ],
            "available": len(self.health.available_ids()),
            "panic": self.health.panic,
            "recent_transitions": [
                {"id": t.id, "from": str(t.old_state), "to": str(t.new_state), "reason": t.reason}
                for t in self.transitions
            ],
        }
