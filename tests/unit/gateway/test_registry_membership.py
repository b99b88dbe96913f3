"""Registry snapshots applied to a pool, with time passed in (issue 10, item 13)."""

from __future__ import annotations

from stateline.gateway.config import PoolConfig
from stateline.gateway.membership import RegistryMembership
from stateline.gateway.pool import Pool
from stateline.registry import Member

A = Member("a", "127.0.0.1:9001", "up")
B = Member("b", "127.0.0.1:9002", "up")


def _pool(stale_after: float = 100.0) -> RegistryMembership:
    """``stale_after`` large: these tests skip the polls between the moments they look at."""
    return RegistryMembership(Pool(PoolConfig(name="apps", registry="apps")), outage_grace=10.0,
                              stale_after=stale_after)


def test_without_an_outage_a_member_that_leaves_is_removed_at_once() -> None:
    m = _pool()
    m.apply([A, B], 0.0)
    m.apply([A], 0.25)
    assert set(m.pool.members) == {"a"}


def test_the_first_snapshots_after_an_outage_do_not_empty_the_pool() -> None:
    m = _pool()
    m.apply([A, B], 0.0)
    m.failed(0.25)
    m.failed(5.0)  # an outage longer than the heartbeats' TTL
    m.apply([], 6.0)  # every entry expired meanwhile: the registry looks empty
    assert set(m.pool.members) == {"a", "b"}
    m.apply([A], 7.0)  # a re-registers; b has not yet
    assert set(m.pool.members) == {"a", "b"}
    m.apply([A], 15.9)
    assert set(m.pool.members) == {"a", "b"}
    m.apply([A], 16.1)  # the grace is over: b did not come back
    assert set(m.pool.members) == {"a"}
    m.apply([], 16.3)  # and from now on the registry is believed again
    assert m.pool.members == {}


def test_a_poll_that_hung_through_the_outage_counts_as_one() -> None:
    m = _pool(stale_after=1.0)
    m.apply([A, B], 0.0)
    m.apply([], 8.0)  # no failure seen, but no snapshot for 8 s either
    assert set(m.pool.members) == {"a", "b"}


def test_members_and_drain_states_are_still_applied_during_the_grace() -> None:
    m = _pool()
    m.apply([A], 0.0)
    m.failed(1.0)
    m.apply([Member("a", "127.0.0.1:9001", "draining"), B], 2.0)
    assert set(m.pool.members) == {"a", "b"}
    assert "a" not in m.pool.health.routable_ids()
