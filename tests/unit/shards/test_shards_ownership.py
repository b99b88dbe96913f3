"""The ownership state machine: leases, fencing and handoff, driven with explicit times.

A hypothesis state machine plays several shards (each with incarnations that
a kill ends) against one room's lease record. Requests reach the store a
little after they were sent (the local clock starts the lease earlier than the
store does), time jumps by arbitrary amounts, and shards acquire, renew,
release, write and get killed in any order. After every step:

- at most one shard may serve the room (a valid local holding);
- a shard that may serve holds the store's current lease, with the same token;
- every write the store accepted carries a token no older than the one before;
- a write by a shard that may serve is never refused.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from stateline.shards.ownership import (
    Action,
    Holding,
    LeaseRecord,
    acquire,
    decide,
    holding_after,
    may_append,
    release,
    renew,
    to_hand_off,
)

TTL = 3.0
MARGIN = 0.5
SHARDS = ("shard-1", "shard-2", "shard-3")
shard_ids = st.sampled_from(SHARDS)
delays = st.floats(min_value=0.0, max_value=0.4)


class OwnershipMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.rec = LeaseRecord()
        self.incarnation = dict.fromkeys(SHARDS, 0)
        self.holding: dict[str, Holding] = {}
        self.accepted: list[int] = []

    def holder(self, shard: str) -> str:
        return f"{shard}/{self.incarnation[shard]}"

    def serving(self) -> list[str]:
        return [s for s, h in self.holding.items()
                if decide(h, False, False, self.now) is Action.SERVE]

    @rule(dt=st.floats(min_value=0.0, max_value=5.0))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule(shard=shard_ids, delay=delays, owner=st.booleans())
    def request(self, shard: str, delay: float, owner: bool) -> None:
        action = decide(self.holding.get(shard), owner, False, self.now)
        if action is not Action.ACQUIRE:
            return
        sent_at = self.now
        self.now += delay  # the request reaches the store later
        self.rec, token = acquire(self.rec, self.holder(shard), self.now, TTL)
        if token is not None:
            self.holding[shard] = holding_after(token, sent_at, TTL, MARGIN)

    @rule(shard=shard_ids, delay=delays)
    def renew(self, shard: str, delay: float) -> None:
        h = self.holding.get(shard)
        if h is None:
            return
        sent_at = self.now
        self.now += delay
        self.rec, ok = renew(self.rec, self.holder(shard), h.token, self.now, TTL)
        if ok:
            self.holding[shard] = holding_after(h.token, sent_at, TTL, MARGIN)
        else:
            del self.holding[shard]

    @rule(shard=shard_ids)
    def hand_off(self, shard: str) -> None:
        h = self.holding.pop(shard, None)
        if h is not None:
            self.rec, _ = release(self.rec, self.holder(shard), h.token, self.now)

    @rule(shard=shard_ids)
    def kill(self, shard: str) -> None:
        """SIGKILL: memory gone, the lease stays in the store; a new incarnation starts."""
        self.holding.pop(shard, None)
        self.incarnation[shard] += 1

    @precondition(lambda self: bool(self.holding))
    @rule(data=st.data())
    def write(self, data: st.DataObject) -> None:
        shard = data.draw(st.sampled_from(sorted(self.holding)))
        h = self.holding[shard]
        may_serve = decide(h, False, False, self.now) is Action.SERVE
        ok = may_append(self.rec, h.token)
        if may_serve:
            assert ok, "a shard with a valid lease was fenced off"
        if ok:
            self.accepted.append(h.token)

    @invariant()
    def single_server(self) -> None:
        assert len(self.serving()) <= 1

    @invariant()
    def server_holds_the_store_lease(self) -> None:
        for shard in self.serving():
            cur = self.rec.current(self.now)
            assert cur is not None
            assert cur.holder == self.holder(shard)
            assert cur.token == self.holding[shard].token == self.rec.fence

    @invariant()
    def accepted_tokens_never_go_back(self) -> None:
        assert self.accepted == sorted(self.accepted)


TestOwnership = OwnershipMachine.TestCase
TestOwnership.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)


def test_a_lease_of_another_shard_is_refused_until_it_expires() -> None:
    rec, t1 = acquire(LeaseRecord(), "shard-1/a", now=0.0, ttl=TTL)
    assert t1 == 1
    rec2, t2 = acquire(rec, "shard-2/a", now=TTL - 0.01, ttl=TTL)
    assert t2 is None and rec2 == rec
    rec3, t3 = acquire(rec, "shard-2/a", now=TTL, ttl=TTL)
    assert t3 == 2 and rec3.lease is not None and rec3.lease.holder == "shard-2/a"
    assert not may_append(rec3, 1) and may_append(rec3, 2)


def test_a_restarted_shard_takes_over_its_predecessors_lease_with_a_new_token() -> None:
    rec, _ = acquire(LeaseRecord(), "shard-2/old", now=0.0, ttl=TTL)
    rec, token = acquire(rec, "shard-2/new", now=0.1, ttl=TTL)
    assert token == 2
    assert not may_append(rec, 1)


def test_reacquiring_ones_own_lease_keeps_the_token() -> None:
    rec, t1 = acquire(LeaseRecord(), "shard-1/a", now=0.0, ttl=TTL)
    rec, t2 = acquire(rec, "shard-1/a", now=1.0, ttl=TTL)
    assert t1 == t2 == 1 and rec.lease is not None and rec.lease.expires_at == 1.0 + TTL


def test_release_only_by_the_holder_with_its_token() -> None:
    rec, _ = acquire(LeaseRecord(), "shard-1/a", now=0.0, ttl=TTL)
    assert release(rec, "shard-2/a", 1, 0.5) == (rec, False)
    assert release(rec, "shard-1/a", 7, 0.5) == (rec, False)
    freed, ok = release(rec, "shard-1/a", 1, 0.5)
    assert ok and freed.lease is None and freed.fence == 1


def test_decide_serves_a_valid_holding_even_after_ownership_moved() -> None:
    h = Holding(token=3, valid_until=10.0)
    assert decide(h, is_owner=False, draining=False, now=9.9) is Action.SERVE
    assert decide(h, is_owner=False, draining=False, now=10.0) is Action.MISDIRECTED
    assert decide(None, is_owner=True, draining=False, now=0.0) is Action.ACQUIRE
    assert decide(None, is_owner=True, draining=True, now=0.0) is Action.MISDIRECTED


def test_hand_off_everything_when_draining_else_what_moved() -> None:
    held = {"a": Holding(1, 5.0), "b": Holding(1, 5.0)}
    assert to_hand_off(held, {"a": True, "b": False}, draining=False) == ["b"]
    assert to_hand_off(held, {"a": True, "b": True}, draining=True) == ["a", "b"]
