"""The one interface every balancing strategy sits behind.

A balancer answers a single question on the gateway's hot path: of the
instances that are available right now, which one gets this request? It sees
nothing of sockets, health or configuration: the data plane hands it the
current candidates (already filtered by health and draining) and, for
key-routed pools, the routing key. That keeps each strategy a small pure object
that the lab can also drive with plain objects to measure key movement and
load spread, exactly as the gateway uses it.

Candidates are passed as a sequence in *membership order*. The data plane keeps
one list per availability version and hands the same list object until
membership or health changes; strategies cache derived tables (weighted
schedules, per-member hash seeds, slot tables) on the identity of that object,
so they must not be given a list that is later mutated in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable


@runtime_checkable
class Target(Protocol):
    """What a balancer sees of an upstream; the data plane's Upstream satisfies it."""

    id: str
    weight: int  # >= 1
    outstanding: int  # requests in flight to it right now


class Balancer(Protocol):
    """Chooses one target for a request, or None when there is none to choose."""

    name: ClassVar[str]
    needs_key: ClassVar[bool]  # True for rendezvous / hash_slot

    def pick(self, targets: Sequence[Target], key: bytes | None = None) -> Target | None:
        """One of ``targets`` (may be empty: then None).

        A key-routed balancer given ``key=None`` falls back to a keyless choice
        (round robin), so a request without a key is still served.
        """
        ...


def check_weight(target: Target) -> int:
    """The target's weight, refusing the nonsense that would break a strategy silently.

    A weight below 1 would make a member unreachable (or, for rendezvous, make
    the logarithm blow up), so it is rejected when a table is built, not on
    every pick.
    """
    weight = target.weight
    if not isinstance(weight, int) or weight < 1:
        raise ValueError(f"target {target.id!r} has weight {weight!r}; weights are integers >= 1")
    return weight
