"""Hash slots, the Redis Cluster mapping: CRC16(key) mod 16384, with hash tags.

A pool whose instances mirror a Redis Cluster's shards (or that simply wants
the same key→slot arithmetic Redis uses) routes by slot. The slot of a key is
CRC16-XMODEM of the key, modulo 16384, except that when the key contains a
``{...}`` hash tag with at least one byte inside, only the tag is hashed:
``{user1000}.following`` and ``{user1000}.followers`` land in one slot, so
multi-key work for one user stays on one instance. CRC16-XMODEM is exactly
``binascii.crc_hqx(data, 0)``, which runs in C.

Slots are spread over the members in contiguous ranges in membership order,
proportional to weight -- the layout ``redis-cli --cluster create`` makes.
Unlike rendezvous this is *not* minimal-movement: adding a member shifts every
range boundary, which is what the lab's routing experiment contrasts. The
slot→target table (the end slot of each member's range) is built once per
membership, so a pick is one CRC over the key and one bisect.
"""

from __future__ import annotations

from binascii import crc_hqx
from bisect import bisect_right
from collections.abc import Sequence
from typing import ClassVar

from stateline.gateway.balancers.base import Target, check_weight
from stateline.gateway.balancers.round_robin import RoundRobin

SLOTS = 16384


def hash_tag(key: bytes) -> bytes:
    """The part of ``key`` Redis hashes: the first non-empty ``{tag}``, or the whole key.

    Redis' rule: find the first ``{``; if a ``}`` follows it with at least one
    byte between them, hash only those bytes; otherwise (no ``}``, or ``{}``)
    hash the whole key.
    """
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def crc16(data: bytes) -> int:
    """CRC16-XMODEM (poly 0x1021, init 0), the checksum Redis Cluster uses."""
    return crc_hqx(data, 0)


def key_slot(key: bytes) -> int:
    """The Redis Cluster slot of ``key`` (what ``CLUSTER KEYSLOT`` answers)."""
    return crc_hqx(hash_tag(key), 0) & (SLOTS - 1)


def slot_ranges(weights: Sequence[int]) -> list[range]:
    """Contiguous slot ranges per member, proportional to weight, covering all slots."""
    total = sum(weights)
    ranges: list[range] = []
    start = 0
    cumulative = 0
    for w in weights:
        cumulative += w
        end = SLOTS * cumulative // total
        ranges.append(range(start, end))
        start = end
    return ranges


class HashSlot:
    """Routes each key to the member that owns its Redis Cluster slot.

    The slot table of a membership is kept as the end of each member's range
    (``bisect`` finds the owner in O(log members), in C). It is cached on the
    identity of the list, like the other balancers' tables; a one-off list (a
    retry that excludes the instance that failed) costs one O(members) pass.
    """

    name: ClassVar[str] = "hash_slot"
    needs_key: ClassVar[bool] = True

    def __init__(self, *, seed: int | None = None) -> None:
        self._for: Sequence[Target] | None = None
        self._for_len = -1
        self._ends: list[int] = []
        self._fallback = RoundRobin(seed=seed)

    @staticmethod
    def range_ends(targets: Sequence[Target]) -> list[int]:
        """The exclusive end slot of each target's range, in membership order."""
        return [r.stop for r in slot_ranges([check_weight(t) for t in targets])]

    def pick(self, targets: Sequence[Target], key: bytes | None = None) -> Target | None:
        n = len(targets)
        if not n:
            return None
        if key is None:
            return self._fallback.pick(targets)
        if targets is not self._for or n != self._for_len:
            self._ends = self.range_ends(targets)
            self._for, self._for_len = targets, n
        start = key.find(b"{")
        if start != -1:
            end = key.find(b"}", start + 1)
            if end > start + 1:
                key = key[start + 1 : end]
        return targets[bisect_right(self._ends, crc_hqx(key, 0) & (SLOTS - 1))]
