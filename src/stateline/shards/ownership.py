"""The ownership state machine: leases, fencing tokens and handoff, with no I/O.

Two halves, both pure and driven with explicit times so tests can run them:

- :class:`LeaseRecord` and its functions are the *rules of the lease store*:
  what Redis keeps for one room (the current lease, the fencing counter) and
  how acquire, renew, release and a fenced append change it. ``lease.py`` and
  ``log.py`` implement exactly these rules as Lua scripts, one room (one hash
  slot) per script, so each rule is atomic in Redis as it is here.
- :func:`decide` is the *shard's side*: given what a shard holds and whom
  rendezvous hashing names as the room's owner, whether it serves a request,
  tries to take the lease first, or refuses.

Why a fencing token and not just a lease: a lease expires by the clock, and a
shard that stalls (GC, a stopped VM, a slow disk) can wake up believing it
still holds one that another shard has since taken. Every acquire increments
the room's fencing counter; an append carries the writer's token and the
store accepts it only while the counter still equals that token. So after a
takeover the old holder's writes are refused by the store itself, whatever
the old holder believes. Reads are served from memory only while the shard's
*local* lease deadline is in the future; that deadline is measured from
before the acquire/renew request was sent, minus a margin for clock drift,
so it always ends before the store's expiry does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Lease:
    """One room's lease as the store holds it."""

    holder: str  # "<shard id>/<incarnation>": a restarted shard is a new holder
    token: int
    expires_at: float  # store time


@dataclass(frozen=True)
class LeaseRecord:
    """Everything the store keeps about one room's ownership."""

    fence: int = 0  # the last token handed out; only grows
    lease: Lease | None = None

    def current(self, now: float) -> Lease | None:
        """The lease if it has not expired by ``now``."""
        if self.lease is not None and self.lease.expires_at > now:
            return self.lease
        return None


def shard_of(holder: str) -> str:
    """``"shard-2/ab12"`` → ``"shard-2"``."""
    return holder.partition("/")[0]


def acquire(rec: LeaseRecord, holder: str, now: float,
            ttl: float) -> tuple[LeaseRecord, int | None]:
    """Take (or keep) the lease; returns the new record and the token, or ``None`` if refused.

    - held by ``holder`` already: extended, same token;
    - free or expired: granted with the next token;
    - held by an earlier incarnation of the same shard (same shard id, other
      incarnation): taken over with the next token. Only one process runs a
      given shard id at a time (the supervisor restarts a shard after it
      exited), so the earlier one is dead; waiting for its lease to expire
      would only lengthen the outage. Its writes are fenced off anyway.
    - held by another shard: refused.
    """
    cur = rec.current(now)
    if cur is not None and cur.holder == holder:
        return LeaseRecord(rec.fence, Lease(holder, cur.token, now + ttl)), cur.token
    if cur is not None and shard_of(cur.holder) != shard_of(holder):
        return rec, None
    token = rec.fence + 1
    return LeaseRecord(token, Lease(holder, token, now + ttl)), token


def renew(rec: LeaseRecord, holder: str, token: int, now: float,
          ttl: float) -> tuple[LeaseRecord, bool]:
    """Extend the lease iff ``holder`` still holds it with ``token``."""
    cur = rec.current(now)
    if cur is None or cur.holder != holder or cur.token != token:
        return rec, False
    return LeaseRecord(rec.fence, Lease(holder, token, now + ttl)), True


def release(rec: LeaseRecord, holder: str, token: int, now: float) -> tuple[LeaseRecord, bool]:
    """Give the lease up (handoff); a no-op for anyone but its holder."""
    cur = rec.current(now)
    if cur is None or cur.holder != holder or cur.token != token:
        return rec, False
    return LeaseRecord(rec.fence, None), True


def may_append(rec: LeaseRecord, token: int) -> bool:
    """The fencing check of every log append: no newer token has been handed out."""
    return token == rec.fence


# -- the shard's side ---------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    """What a shard believes about a room it holds."""

    token: int
    valid_until: float  # local clock: when the shard must stop serving without a renewal


def holding_after(token: int, sent_at: float, ttl: float, margin: float) -> Holding:
    """The local view of a lease granted or renewed by a request sent at ``sent_at``.

    The store's expiry is at least ``sent_at + ttl`` in store time; ending the
    local view ``margin`` earlier covers clock drift between the two.
    """
    return Holding(token, sent_at + ttl - margin)


class Action(Enum):
    SERVE = "serve"  # hold a valid lease: answer from memory
    ACQUIRE = "acquire"  # rendezvous names us and we hold nothing: take the lease, then serve
    MISDIRECTED = "misdirected"  # not ours: refuse (421) so the gateway asks the owner


def decide(holding: Holding | None, is_owner: bool, draining: bool, now: float) -> Action:
    """What a shard does with a request for one room.

    A valid holding is always served, even when rendezvous has just named
    another shard: the lease is what makes a single writer, and the handoff
    (snapshot, release) follows within one rebalance tick. Without one, a
    shard takes the lease only for rooms rendezvous gives it in its own view
    of the pool, and never while draining: a shard that took rooms it does not
    own because of a stale gateway view would bounce them back and forth.
    """
    if holding is not None and holding.valid_until > now:
        return Action.SERVE
    if is_owner and not draining:
        return Action.ACQUIRE
    return Action.MISDIRECTED


def to_hand_off(held: dict[str, Holding], owner_of: dict[str, bool], draining: bool) -> list[str]:
    """Rooms a shard must snapshot and release: all when draining, else those not its own."""
    if draining:
        return sorted(held)
    return sorted(room for room in held if not owner_of.get(room, False))
