"""Round robin, weighted the smooth way (nginx's smooth weighted round robin).

Why smooth: with weights 5:1:1 a naive weighted round robin sends five requests
in a row to the heavy member, then one to each other; the smooth variant
interleaves them (a a b a c a a), so no member sees a burst it was not weighted
for. The schedule for one membership is computed once and replayed by index,
so a pick is an index increment and two subscripts.

Each balancer starts at a random offset: N gateway replicas (or N workers of
one gateway) started together would otherwise all send their first request to
the same first instance.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import ClassVar

from stateline.gateway.balancers.base import Target, check_weight

#: Longest precomputed schedule; beyond it (huge, coprime weights) picks run the
#: smooth algorithm live, O(members) per pick, which is still correct.
MAX_SCHEDULE = 16384


def smooth_schedule(weights: Sequence[int]) -> list[int]:
    """One full period of smooth weighted round robin, as indices into ``weights``.

    Each step adds every weight to its member's current value, picks the member
    with the largest current value (first on ties) and subtracts the total from
    it. After sum(weights)/gcd steps the current values are back to zero, so the
    period repeats exactly and each member appears weight/gcd times.
    """
    divisor = math.gcd(*weights)
    reduced = [w // divisor for w in weights]
    total = sum(reduced)
    current = [0] * len(reduced)
    order: list[int] = []
    for _ in range(total):
        best = 0
        for i, w in enumerate(reduced):
            current[i] += w
            if current[i] > current[best]:
                best = i
        current[best] -= total
        order.append(best)
    return order


class RoundRobin:
    """Each available target in turn, in proportion to its weight."""

    name: ClassVar[str] = "round_robin"
    needs_key: ClassVar[bool] = False

    def __init__(self, *, seed: int | None = None) -> None:
        self._next = random.Random(seed).randrange(1 << 16)
        self._for: Sequence[Target] | None = None
        self._for_len = -1
        self._schedule: list[int] | None = None  # None: all weights equal
        self._live: list[int] | None = None  # current values when the schedule is too long
        # Schedules by weight vector: a retry's one-off list (the pool minus the instance
        # that failed) and the pool's own list alternate without recomputing either.
        self._schedules: dict[tuple[int, ...], list[int]] = {}

    def _prepare(self, targets: Sequence[Target]) -> None:
        weights = tuple(check_weight(t) for t in targets)
        self._for, self._for_len = targets, len(targets)
        self._live = None
        if min(weights) == max(weights):
            self._schedule = None
            return
        schedule = self._schedules.get(weights)
        if schedule is None:
            if sum(weights) // math.gcd(*weights) > MAX_SCHEDULE:
                self._schedule = []
                self._live = [0] * len(weights)
                return
            if len(self._schedules) >= 64:
                self._schedules.clear()
            schedule = self._schedules[weights] = smooth_schedule(weights)
        self._schedule = schedule

    def _pick_live(self, targets: Sequence[Target]) -> Target:
        current = self._live
        assert current is not None
        total = 0
        best = 0
        for i, t in enumerate(targets):
            current[i] += t.weight
            total += t.weight
            if current[i] > current[best]:
                best = i
        current[best] -= total
        return targets[best]

    def pick(self, targets: Sequence[Target], key: bytes | None = None) -> Target | None:
        n = len(targets)
        if not n:
            return None
        if targets is not self._for or n != self._for_len:
            self._prepare(targets)
        i = self._next
        self._next = i + 1
        schedule = self._schedule
        if schedule is None:
            return targets[i % n]
        if self._live is not None:
            return self._pick_live(targets)
        return targets[schedule[i % len(schedule)]]
