"""Least outstanding requests, by the power of two choices.

Scanning every member for the least loaded one has two problems: it is O(N)
per request, and all gateways (each with its own view of "outstanding") herd
onto the same momentarily idle instance. Picking two members at random and
sending the request to the less loaded of the two avoids both: it is O(1), and
Mitzenmacher's result says the maximum load drops exponentially compared to a
single random choice. Envoy's LEAST_REQUEST uses the same rule (choice_count 2).

Weights scale capacity: a member of weight 2 is considered as loaded as a
member of weight 1 with half its outstanding requests. The comparison is done
in integers, ``(a.outstanding + 1) * b.weight`` against the mirror term, so it
needs no division on the hot path; the "+ 1" makes an idle heavy member beat an
idle light one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from stateline.gateway.balancers.base import Target


class LeastOutstanding:
    """Power of two choices over ``outstanding``, weighted."""

    name: ClassVar[str] = "least_outstanding"
    needs_key: ClassVar[bool] = False

    def __init__(self, *, seed: int | None = None) -> None:
        self._random = random.Random(seed).random

    def pick(self, targets: Sequence[Target], key: bytes | None = None) -> Target | None:
        n = len(targets)
        if n < 2:
            return targets[0] if n else None
        r = self._random
        i = int(r() * n)
        j = int(r() * (n - 1))
        if j >= i:
            j += 1
        a = targets[i]
        b = targets[j]
        # Ties go to ``a``, which is itself a random choice: idle pools still spread.
        if (b.outstanding + 1) * a.weight < (a.outstanding + 1) * b.weight:
            return b
        return a
