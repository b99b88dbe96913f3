"""Rendezvous hashing (highest random weight), weighted: consistent routing by key.

A stateful pool needs every request for one key (a user, a cart, a game) to
reach the same instance, and needs that mapping to survive membership changes
with as little churn as possible. Rendezvous hashing gives each (key, member)
pair a pseudo-random score and routes the key to the member with the highest
score. When a member leaves, only the keys it won move (each to its runner-up);
when one joins, it takes exactly the keys for which it scores highest, about
1/N of them, all taken from the others in proportion. No ring, no virtual
nodes, no table to rebuild.

Speed: the key is hashed once, with CRC-32 (C code, about ten times cheaper
than blake2b on short keys) spread to 64 bits by a multiplication; each member
has a 64-bit seed precomputed from its id (blake2b, once per membership), and
the per-member score is the murmur3 64-bit finaliser of ``key_hash ^ seed`` --
a few integer operations instead of one hash per member. The finaliser's full
avalanche is what makes scores of different members independent; CRC-32 only
has to tell keys apart (two keys with the same CRC simply share an owner).
Results are cached per key for the current membership (a dict lookup for a hot
key), and the cache is dropped whenever the membership list changes or it grows
past ``cache_size`` entries.

Weights use the logarithmic method (Resch; also used by Ceph's straw2): score =
weight / -ln(u) with u uniform in (0, 1). That makes each member's share of
keys proportional to its weight while keeping the minimal-movement property.
When all weights are equal the raw 64-bit value is compared instead (same
order, no logarithm).

Scores depend only on the key bytes and member ids, never on process state or
Python's randomised ``hash()``, so every gateway replica, and every run of the
lab's experiments, routes a key to the same member.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from hashlib import blake2b
from typing import ClassVar
from zlib import crc32

from stateline.gateway.balancers.base import Target, check_weight
from stateline.gateway.balancers.round_robin import RoundRobin

_MASK = (1 << 64) - 1
_C1 = 0xFF51AFD7ED558CCD
_C2 = 0xC4CEB9FE1A85EC53
_GOLDEN = 0x9E3779B97F4A7C15
_SCALE = 1.0 / 18446744073709551616.0  # 2**-64


def key_hash(key: bytes) -> int:
    """A stable 64-bit hash of a routing key (CRC-32, spread by the golden-ratio multiplier)."""
    return (crc32(key) * _GOLDEN) & _MASK


def member_seed(member_id: str) -> int:
    """A stable 64-bit seed for a member, so its scores are independent of others'."""
    return int.from_bytes(
        blake2b(member_id.encode(), digest_size=8, person=b"stateline-hrw").digest(), "little"
    )


def mix(x: int) -> int:
    """murmur3's fmix64: a bijection on 64-bit ints with full avalanche."""
    x ^= x >> 33
    x = (x * _C1) & _MASK
    x ^= x >> 33
    x = (x * _C2) & _MASK
    x ^= x >> 33
    return x


def score(key: bytes, member_id: str, weight: int = 1) -> float:
    """The weighted score of one member for one key (higher wins); for tests and the lab."""
    u = (mix(key_hash(key) ^ member_seed(member_id)) + 0.5) * _SCALE
    return weight / -math.log(u)


class Rendezvous:
    """Routes each key to the member with the highest (weighted) score.

    A list seen for the first time is routed without touching the per-key
    cache; only when the same list object comes back is it adopted as the
    membership (seeds, weights, fresh cache). The data plane passes one list per
    availability version, and a filtered one-off list when it retries on
    another instance: the one-off list then costs a few microseconds and does
    not throw away the cache of the real membership. Both paths route a key
    identically.
    """

    name: ClassVar[str] = "rendezvous"
    needs_key: ClassVar[bool] = True

    def __init__(self, *, cache_size: int = 8192, seed: int | None = None) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        self._cache_size = cache_size
        self._cache: dict[bytes, Target] = {}
        self._for: Sequence[Target] | None = None
        self._for_len = -1
        self._seen: Sequence[Target] | None = None  # last list seen once, not yet adopted
        self._seen_len = -1
        self._seeds: list[int] = []
        self._weights: list[int] | None = None  # None: all equal
        self._seed_of: dict[str, int] = {}
        self._fallback = RoundRobin(seed=seed)

    def _member_seeds(self, targets: Sequence[Target]) -> tuple[list[int], list[int] | None]:
        seed_of = self._seed_of
        if len(seed_of) > 4096:  # ids churn slowly; this only bounds a pathological churn
            seed_of.clear()
        seeds = []
        for t in targets:
            s = seed_of.get(t.id)
            if s is None:
                s = seed_of[t.id] = member_seed(t.id)
            seeds.append(s)
        weights = [check_weight(t) for t in targets]
        return seeds, (None if min(weights) == max(weights) else weights)

    def _adopt(self, targets: Sequence[Target]) -> None:
        self._seeds, self._weights = self._member_seeds(targets)
        self._cache.clear()
        self._for, self._for_len = targets, len(targets)
        self._seen = None

    @staticmethod
    def _choose(targets: Sequence[Target], key: bytes, seeds: list[int],
                weights: list[int] | None) -> Target:
        h = (crc32(key) * _GOLDEN) & _MASK
        best_i = 0
        if weights is None:
            best = -1
            mask, c1, c2 = _MASK, _C1, _C2
            for i, s in enumerate(seeds):
                x = h ^ s
                x ^= x >> 33
                x = (x * c1) & mask
                x ^= x >> 33
                x = (x * c2) & mask
                x ^= x >> 33
                if x > best:
                    best, best_i = x, i
        else:
            best_score = -1.0
            log = math.log
            for i, s in enumerate(seeds):
                u = (mix(h ^ s) + 0.5) * _SCALE
                sc = weights[i] / -log(u)
                if sc > best_score:
                    best_score, best_i = sc, i
        return targets[best_i]

    def pick(self, targets: Sequence[Target], key: bytes | None = None) -> Target | None:
        n = len(targets)
        if not n:
            return None
        if key is None:
            return self._fallback.pick(targets)
        if n == 1:
            return targets[0]
        if targets is not self._for or n != self._for_len:
            if targets is not self._seen or n != self._seen_len:
                self._seen, self._seen_len = targets, n
                return self._choose(targets, key, *self._member_seeds(targets))
            self._adopt(targets)
        cache = self._cache
        hit = cache.get(key)
        if hit is not None:
            return hit
        chosen = self._choose(targets, key, self._seeds, self._weights)
        if self._cache_size:
            if len(cache) >= self._cache_size:
                cache.clear()
            cache[key] = chosen
        return chosen
