"""Balancing strategies, one per module behind the ``Balancer`` interface in ``base``.

Stateless pools use ``round_robin`` or ``least_outstanding``; stateful pools
route by a key (see ``keys.KeySource``) with ``rendezvous`` (minimal movement on
membership change) or ``hash_slot`` (the Redis Cluster slot mapping).
"""

from __future__ import annotations

from typing import Any

from stateline.gateway.balancers.base import Balancer, Target
from stateline.gateway.balancers.hash_slot import HashSlot
from stateline.gateway.balancers.keys import KeySource
from stateline.gateway.balancers.least_outstanding import LeastOutstanding
from stateline.gateway.balancers.rendezvous import Rendezvous
from stateline.gateway.balancers.round_robin import RoundRobin

BALANCERS: dict[str, type[Any]] = {
    cls.name: cls for cls in (RoundRobin, LeastOutstanding, Rendezvous, HashSlot)
}
POLICIES: tuple[str, ...] = tuple(BALANCERS)


def create_balancer(policy: str, **options: Any) -> Balancer:
    """A new balancer for ``policy``; ``options`` go to its constructor (e.g. ``seed``).

    Each pool (and each gateway worker) gets its own instance: balancers keep
    small per-pool caches and counters, never shared state.
    """
    try:
        cls = BALANCERS[policy]
    except KeyError:
        known = ", ".join(POLICIES)
        raise ValueError(f"unknown balancing policy {policy!r}; known: {known}") from None
    try:
        balancer: Balancer = cls(**options)
    except TypeError as exc:
        raise ValueError(f"bad options for balancing policy {policy!r}: {exc}") from None
    return balancer


__all__ = [
    "BALANCERS",
    "POLICIES",
    "Balancer",
    "HashSlot",
    "KeySource",
    "LeastOutstanding",
    "Rendezvous",
    "RoundRobin",
    "Target",
    "create_balancer",
]
