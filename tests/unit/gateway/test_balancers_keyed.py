"""Key-routed balancers: rendezvous (minimal movement) and hash_slot (Redis' slot mapping)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stateline.gateway.balancers.hash_slot import (
    SLOTS,
    HashSlot,
    crc16,
    hash_tag,
    key_slot,
    slot_ranges,
)
from stateline.gateway.balancers.rendezvous import Rendezvous, score


@dataclass
class Node:
    id: str
    weight: int = 1
    outstanding: int = 0


KEYS = [f"user-{i}".encode() for i in range(3000)]
member_ids = st.lists(st.text(min_size=1, max_size=12), min_size=2, max_size=9, unique=True)


def route(balancer: Rendezvous | HashSlot, pool: list[Node], keys: list[bytes]) -> list[str]:
    return [balancer.pick(pool, k).id for k in keys]  # type: ignore[union-attr]


def within(observed: int, total: int, p: float, sds: float = 5.0) -> bool:
    """Whether ``observed`` of ``total`` is a plausible binomial draw with probability p."""
    sd = math.sqrt(total * p * (1 - p))
    return abs(observed - total * p) <= sds * sd + 1


# -- rendezvous ------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(ids=member_ids, new_id=st.text(min_size=1, max_size=12))
def test_rendezvous_join_moves_about_one_in_n_keys_all_to_the_newcomer(ids: list[str],
                                                                       new_id: str) -> None:
    if new_id in ids:
        return
    before_pool = [Node(i) for i in ids]
    after_pool = [*before_pool, Node(new_id)]
    hrw = Rendezvous()
    before = route(hrw, before_pool, KEYS)
    after = route(hrw, after_pool, KEYS)
    moved = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert all(a == new_id for _, a in moved)
    assert within(len(moved), len(KEYS), 1 / len(after_pool))


@settings(max_examples=25, deadline=None)
@given(ids=member_ids, data=st.data())
def test_rendezvous_leave_moves_only_the_keys_of_the_member_that_left(ids: list[str],
                                                                      data: st.DataObject) -> None:
    gone = data.draw(st.sampled_from(ids))
    pool = [Node(i) for i in ids]
    hrw = Rendezvous()
    before = route(hrw, pool, KEYS)
    after = route(hrw, [n for n in pool if n.id != gone], KEYS)
    for b, a in zip(before, after, strict=True):
        assert (b == a) if b != gone else (a != gone)
    assert within(before.count(gone), len(KEYS), 1 / len(ids))


def test_rendezvous_growing_three_to_four_moves_a_quarter_of_the_keys() -> None:
    pool = [Node(f"app-{i}") for i in range(1, 4)]
    hrw = Rendezvous()
    before = route(hrw, pool, KEYS)
    after = route(hrw, [*pool, Node("app-4")], KEYS)
    moved = sum(b != a for b, a in zip(before, after, strict=True))
    assert within(moved, len(KEYS), 0.25)


def test_rendezvous_spreads_keys_evenly() -> None:
    pool = [Node(f"app-{i}") for i in range(1, 6)]
    counts = Counter(route(Rendezvous(), pool, KEYS))
    assert all(within(counts[n.id], len(KEYS), 0.2) for n in pool), counts


def test_rendezvous_share_follows_weight() -> None:
    pool = [Node("a", weight=1), Node("b", weight=2), Node("c", weight=5)]
    counts = Counter(route(Rendezvous(), pool, KEYS))
    for n in pool:
        assert within(counts[n.id], len(KEYS), n.weight / 8), counts


def test_rendezvous_is_the_same_in_every_gateway_and_ignores_member_order() -> None:
    pool = [Node(f"app-{i}") for i in range(1, 6)]
    one = route(Rendezvous(), pool, KEYS)
    other = route(Rendezvous(cache_size=0), list(reversed(pool)), KEYS)
    assert one == other


def test_rendezvous_picks_the_member_with_the_highest_score() -> None:
    pool = [Node("a", 1), Node("b", 3), Node("c", 2)]
    hrw = Rendezvous()
    for key in KEYS[:200]:
        best = max(pool, key=lambda n, key=key: score(key, n.id, n.weight))
        assert hrw.pick(pool, key) is best


def test_rendezvous_cache_is_dropped_when_membership_changes() -> None:
    hrw = Rendezvous()
    pool = [Node("a"), Node("b")]
    owner = hrw.pick(pool, b"k")
    assert owner is not None
    remaining = [n for n in pool if n is not owner]
    assert hrw.pick(remaining, b"k") is remaining[0]
    assert hrw.pick(pool, b"k") is owner


def test_rendezvous_routes_one_off_lists_like_the_adopted_membership() -> None:
    pool = [Node(f"app-{i}", weight=1 + i % 2) for i in range(5)]
    adopted = route(Rendezvous(), pool, KEYS[:500])
    one_off = [Rendezvous().pick(list(pool), k).id for k in KEYS[:500]]  # type: ignore[union-attr]
    assert adopted == one_off


def test_a_retry_list_does_not_disturb_the_membership_cache() -> None:
    pool = [Node(f"app-{i}") for i in range(4)]
    hrw = Rendezvous()
    route(hrw, pool, KEYS[:50])
    owner = hrw.pick(pool, KEYS[0])
    cached = dict(hrw._cache)
    assert KEYS[0] in cached
    retry = [n for n in pool if n is not owner]
    runner_up = hrw.pick(retry, KEYS[0])
    assert runner_up is not None and runner_up is not owner
    assert hrw._cache == cached
    assert hrw.pick(pool, KEYS[0]) is owner


def test_rendezvous_cache_stays_bounded() -> None:
    hrw = Rendezvous(cache_size=100)
    pool = [Node("a"), Node("b"), Node("c")]
    route(hrw, pool, KEYS)
    assert len(hrw._cache) <= 100


def test_rendezvous_negative_cache_size_is_refused() -> None:
    with pytest.raises(ValueError):
        Rendezvous(cache_size=-1)


# -- hash slot -------------------------------------------------------------------


def test_crc16_is_xmodem() -> None:
    assert crc16(b"123456789") == 0x31C3


@pytest.mark.parametrize(("key", "slot"), [
    (b"foo", 12182),  # redis-cli cluster keyslot foo
    (b"somekey", 11058),  # Redis docs, CLUSTER KEYSLOT
    (b"foo{hash_tag}", 2515),  # Redis docs, CLUSTER KEYSLOT
    (b"", 0),
])
def test_key_slot_matches_redis_known_vectors(key: bytes, slot: int) -> None:
    assert key_slot(key) == slot


def test_keys_with_one_hash_tag_share_a_slot() -> None:
    assert key_slot(b"{user1000}.following") == key_slot(b"{user1000}.followers")
    assert key_slot(b"{user1000}.following") == key_slot(b"user1000")


@pytest.mark.parametrize(("key", "hashed"), [
    (b"{user1000}.following", b"user1000"),
    (b"foo{}{bar}", b"foo{}{bar}"),  # empty first tag: the whole key
    (b"foo{{bar}}zap", b"{bar"),  # from the first "{" to the first "}" after it
    (b"foo{bar}{zap}", b"bar"),  # only the first tag counts
    (b"no-tag", b"no-tag"),
    (b"open{only", b"open{only"),
    (b"}{x}", b"x"),
])
def test_hash_tag_follows_the_cluster_spec(key: bytes, hashed: bytes) -> None:
    assert hash_tag(key) == hashed


@settings(deadline=None)  # timing is not the property; CI machines are shared
@given(st.binary(max_size=40))
def test_key_slot_is_always_a_valid_slot(key: bytes) -> None:
    assert 0 <= key_slot(key) < SLOTS


@settings(deadline=None)  # timing is not the property; CI machines are shared
@given(st.lists(st.integers(1, 50), min_size=1, max_size=10))
def test_slot_ranges_cover_every_slot_once_in_order(weights: list[int]) -> None:
    ranges = slot_ranges(weights)
    assert [s for r in ranges for s in r] == list(range(SLOTS))


def test_slot_ranges_for_three_equal_members_match_redis_cli_layout() -> None:
    # redis-cli --cluster create with 3 masters: 0-5460, 5461-10922, 10923-16383.
    assert slot_ranges([1, 1, 1]) == [range(0, 5461), range(5461, 10922), range(10922, 16384)]


@settings(deadline=None)  # timing is not the property; CI machines are shared
@given(key=st.binary(max_size=30))
def test_hash_slot_routes_a_key_to_the_owner_of_its_slot(key: bytes) -> None:
    pool = [Node("a"), Node("b", weight=2), Node("c")]
    ranges = dict(zip(("a", "b", "c"), slot_ranges([1, 2, 1]), strict=True))
    picked = HashSlot().pick(pool, key)
    assert picked is not None
    assert key_slot(key) in ranges[picked.id]


def test_hash_slot_keeps_tagged_keys_together() -> None:
    pool = [Node(f"shard-{i}") for i in range(3)]
    hs = HashSlot()
    owners = {hs.pick(pool, f"{{cart-42}}.{field}".encode()).id  # type: ignore[union-attr]
              for field in ("items", "total", "owner", "coupon")}
    assert len(owners) == 1


def test_hash_slot_spreads_keys_and_rebuilds_on_membership_change() -> None:
    pool = [Node(f"shard-{i}") for i in range(3)]
    hs = HashSlot()
    counts = Counter(route(hs, pool, KEYS))
    assert all(within(counts[n.id], len(KEYS), 1 / 3) for n in pool), counts
    bigger = [*pool, Node("shard-3")]
    assert "shard-3" in set(route(hs, bigger, KEYS))
