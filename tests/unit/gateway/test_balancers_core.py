"""Balancers: the keyless strategies, the factory, and what every strategy must do."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stateline.gateway.balancers import POLICIES, Target, create_balancer
from stateline.gateway.balancers.least_outstanding import LeastOutstanding
from stateline.gateway.balancers.round_robin import MAX_SCHEDULE, RoundRobin, smooth_schedule


@dataclass
class Node:
    id: str
    weight: int = 1
    outstanding: int = 0


def nodes(n: int, **weights: int) -> list[Node]:
    return [Node(f"m{i}", weights.get(f"m{i}", 1)) for i in range(n)]


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_returns_none_for_an_empty_pool(policy: str) -> None:
    assert create_balancer(policy).pick([], b"k") is None
    assert create_balancer(policy).pick([]) is None


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_picks_the_only_member(policy: str) -> None:
    only = Node("solo")
    assert create_balancer(policy).pick([only], b"key") is only
    assert create_balancer(policy).pick([only]) is only


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_serves_requests_without_a_key(policy: str) -> None:
    pool = nodes(3)
    balancer = create_balancer(policy, seed=7)
    picked = Counter(balancer.pick(pool).id for _ in range(300))  # type: ignore[union-attr]
    assert set(picked) == {"m0", "m1", "m2"}


@pytest.mark.parametrize("policy", POLICIES)
def test_plain_objects_satisfy_the_target_protocol(policy: str) -> None:
    assert isinstance(Node("a"), Target)
    assert create_balancer(policy).name == policy


def test_unknown_policy_is_a_value_error_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="round_robin"):
        create_balancer("random_please")


def test_unknown_option_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad options"):
        create_balancer("round_robin", colour="blue")


def test_key_routed_policies_say_they_need_a_key() -> None:
    needs = {p: create_balancer(p).needs_key for p in POLICIES}
    assert needs == {"round_robin": False, "least_outstanding": False,
                     "rendezvous": True, "hash_slot": True}


@pytest.mark.parametrize("policy", ["round_robin", "rendezvous", "hash_slot"])
def test_weight_below_one_is_refused_when_a_table_is_built(policy: str) -> None:
    pool = [Node("a"), Node("b", weight=0)]
    with pytest.raises(ValueError, match="weight"):
        create_balancer(policy).pick(pool, b"key")


# -- round robin ---------------------------------------------------------------


def test_round_robin_visits_members_in_order() -> None:
    pool = nodes(4)
    rr = RoundRobin(seed=3)
    first = [rr.pick(pool).id for _ in range(8)]  # type: ignore[union-attr]
    start = int(first[0][1:])
    assert first == [f"m{(start + i) % 4}" for i in range(8)]


@settings(deadline=None)  # timing is not the property; CI machines are shared
@given(n=st.integers(1, 12), rounds=st.integers(1, 20), seed=st.integers(0, 1000))
def test_round_robin_spreads_equal_weights_exactly_evenly(n: int, rounds: int, seed: int) -> None:
    pool = nodes(n)
    rr = RoundRobin(seed=seed)
    counts = Counter(rr.pick(pool).id for _ in range(n * rounds))  # type: ignore[union-attr]
    assert counts == {node.id: rounds for node in pool}


@settings(deadline=None)  # timing is not the property; CI machines are shared
@given(weights=st.lists(st.integers(1, 20), min_size=1, max_size=8), seed=st.integers(0, 99))
def test_round_robin_gives_each_member_its_weight_per_period(weights: list[int],
                                                             seed: int) -> None:
    pool = [Node(f"m{i}", w) for i, w in enumerate(weights)]
    rr = RoundRobin(seed=seed)
    counts = Counter(rr.pick(pool).id for _ in range(sum(weights)))  # type: ignore[union-attr]
    assert counts == {node.id: node.weight for node in pool}


def test_smooth_schedule_interleaves_a_heavy_member() -> None:
    # nginx's documented example: weights 5, 1, 1 give a a b a c a a.
    assert smooth_schedule([5, 1, 1]) == [0, 0, 1, 0, 2, 0, 0]


def test_round_robin_with_huge_coprime_weights_runs_live_and_stays_proportional() -> None:
    pool = [Node("a", MAX_SCHEDULE), Node("b", MAX_SCHEDULE - 1), Node("c", 1)]
    rr = RoundRobin(seed=0)
    total = sum(n.weight for n in pool)
    counts = Counter(rr.pick(pool).id for _ in range(total))  # type: ignore[union-attr]
    assert counts == {"a": MAX_SCHEDULE, "b": MAX_SCHEDULE - 1, "c": 1}


def test_round_robin_follows_a_membership_change() -> None:
    rr = RoundRobin(seed=1)
    before = nodes(3)
    for _ in range(5):
        rr.pick(before)
    after = [*before[:2], Node("new")]
    seen = {rr.pick(after).id for _ in range(3)}  # type: ignore[union-attr]
    assert seen == {"m0", "m1", "new"}


def test_two_round_robins_do_not_all_start_on_the_same_member() -> None:
    pool = nodes(5)
    firsts = {RoundRobin(seed=s).pick(pool).id for s in range(40)}  # type: ignore[union-attr]
    assert len(firsts) > 1


# -- least outstanding -----------------------------------------------------------


def test_least_outstanding_never_picks_the_busier_of_two() -> None:
    idle, busy = Node("idle"), Node("busy", outstanding=10)
    lo = LeastOutstanding(seed=1)
    assert {lo.pick([idle, busy]).id for _ in range(100)} == {"idle"}  # type: ignore[union-attr]
    assert {lo.pick([busy, idle]).id for _ in range(100)} == {"idle"}  # type: ignore[union-attr]


def test_least_outstanding_spreads_an_idle_pair() -> None:
    lo = LeastOutstanding(seed=2)
    counts = Counter(lo.pick(nodes(2)).id for _ in range(1000))  # type: ignore[union-attr]
    assert 400 < counts["m0"] < 600


def test_least_outstanding_never_picks_the_busiest_member_of_a_larger_pool() -> None:
    pool = nodes(5)
    pool[3].outstanding = 50
    lo = LeastOutstanding(seed=3)
    counts = Counter(lo.pick(pool).id for _ in range(2000))  # type: ignore[union-attr]
    assert counts["m3"] == 0
    assert all(counts[f"m{i}"] > 300 for i in (0, 1, 2, 4))


def test_least_outstanding_balances_load_that_it_creates() -> None:
    """Requests that stay in flight: the pool ends up evenly loaded, not just on average."""
    pool = nodes(4)
    lo = LeastOutstanding(seed=4)
    for _ in range(400):
        lo.pick(pool).outstanding += 1  # type: ignore[union-attr]
    loads = [n.outstanding for n in pool]
    assert max(loads) - min(loads) <= 4, loads


def test_least_outstanding_counts_weight_as_capacity() -> None:
    big, small = Node("big", weight=3, outstanding=5), Node("small", weight=1, outstanding=2)
    lo = LeastOutstanding(seed=5)
    # big: (5+1)/3 = 2 per unit of weight, small: (2+1)/1 = 3 -> big is less loaded.
    assert {lo.pick([big, small]).id for _ in range(50)} == {"big"}  # type: ignore[union-attr]
