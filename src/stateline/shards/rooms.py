"""The rooms service of one shard: rooms in memory, owned through leases, logged before acked.

Every request goes through :meth:`RoomService._active`, which asks the pure
core (:func:`ownership.decide`) what to do: answer from memory, take the lease
and reactivate the room first, or refuse with :class:`Refusal` (421
``misdirected``: the gateway retries on the owner). A write is appended to the
room's log under the lease's fencing token and applied in memory only after
Redis accepted it; a write that failed or was fenced drops the room from
memory, so the next request rebuilds it from snapshot + log and memory never
runs ahead of (or behind) the log.

Writes to one room are serialised by a per-room lock (log order is memory
order); reads take no lock and touch no store.
"""

# The suppression comments below are longer than a line may be: those lines are exempt.
# ruff: noqa: E501

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from stateline.gateway.balancers.rendezvous import key_hash, member_seed, mix
from stateline.shards import snapshots
from stateline.shards.lease import Leases, Refused
from stateline.shards.log import Fenced, RoomLog
from stateline.shards.ownership import Action, Holding, decide, shard_of, to_hand_off
from stateline.stores.blobs import BlobStore, open_blob_store
from stateline.stores.redis import AsyncRedis

log = logging.getLogger("stateline.shards")

#: A room larger than this refuses joins (409): one room is one shard's memory.
MAX_PLAYERS = 1000
#: Coordinates must lie within ±COORD_LIMIT.
COORD_LIMIT = 1_000_000.0
#: Snapshot a room after this many logged changes (and on handoff).
DEFAULT_SNAPSHOT_EVERY = 200


class Refusal(Exception):
    """A request this shard must not serve; ``status`` 421 means "ask the owner"."""

    def __init__(self, status: int, code: str, message: str, owner: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.owner = owner
        self.retry_after = retry_after


class RoomError(Exception):
    """Bad input or a state conflict (404 not in room, 409 full): the client's to fix."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Room:
    """One room's authoritative state, as of log entry ``last``."""

    players: dict[str, tuple[float, float]] = field(default_factory=dict)
    last: str = "0-0"
    since_snapshot: int = 0
    snapshotting: bool = False  # a background snapshot is being written

    def apply(self, event: dict[str, Any]) -> None:
        op, player = event.get("op"), str(event.get("player"))
        if op == "leave":
            self.players.pop(player, None)
        elif op in ("join", "move"):
            self.players[player] = (float(event["x"]), float(event["y"]))  # type: ignore[arg-type]

    def state(self) -> dict[str, Any]:
        return {"players": {p: [x, y] for p, (x, y) in self.players.items()}, "last": self.last}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Room:
        players = {str(p): (float(xy[0]), float(xy[1])) for p, xy in state["players"].items()}
        return cls(players=players, last=str(state["last"]))

    def view(self, room_id: str) -> dict[str, Any]:
        return {"room_id": room_id, "players": [
            {"player_id": p, "x": x, "y": y} for p, (x, y) in sorted(self.players.items())]}


#: What a shard counts; ``/_stateline/shard`` shows them (``misdirected``: the lab's ``misrouted``).
COUNTERS = ("misdirected", "activations", "handoffs", "snapshots", "fenced", "lost_leases")


class Owners:
    """Rendezvous over the shard pool, the same choice the gateway's balancer makes."""

    def __init__(self, members: list[str]) -> None:
        self.members = sorted(members)
        self._seeds = [member_seed(m) for m in self.members]

    def owner(self, room: str) -> str | None:
        if not self.members:
            return None
        h = key_hash(room.encode())
        best, best_i = -1, 0
        for i, s in enumerate(self._seeds):
            x = mix(h ^ s)
            if x > best:
                best, best_i = x, i
        return self.members[best_i]


class RoomService:
    """The rooms one shard incarnation holds, and the operations on them."""

    def __init__(self, redis: AsyncRedis | None = None, blobs: BlobStore | None = None,
                 holder: str = "unbound/0", *, ttl_s: float | None = None,
                 margin_s: float | None = None,
                 snapshot_every: int = DEFAULT_SNAPSHOT_EVERY, view_wait_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.snapshot_every = snapshot_every
        #: A request for a room that is not ours waits this long for the next membership
        #: view before it is refused (see :meth:`_active`); 0 refuses at once.
        self.view_wait_s = view_wait_s
        self._view_changed = asyncio.Event()
        self.clock = clock
        self._lease_opts = {k: v for k, v in (("ttl_s", ttl_s), ("margin_s", margin_s))
                            if v is not None}
        self.draining = False
        self.ready = False
        self.counters = dict.fromkeys(COUNTERS, 0)
        # The shard's deliberate in-memory state: the one authoritative copy of each room
        # it holds a lease on. Written only by _keep/_drop (and Room.apply after a log append).
        self.rooms: dict[str, Room] = {}
        self.holdings: dict[str, Holding] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.bind(redis, blobs, holder)

    def bind(self, redis: AsyncRedis | None, blobs: BlobStore | None, holder: str) -> None:
        """Attach the stores and this incarnation's holder id (once, at start-up).

        The process's service is created at import (``api.ROOMS``, so that the
        handlers reach it the way ``stateline lint`` can follow) and bound here
        when the shard starts; a test binds its own instances at once.
        """
        self.leases = Leases(redis, holder, **self._lease_opts)  # type: ignore[arg-type]
        self.log = RoomLog(redis)  # type: ignore[arg-type]
        self.blobs = blobs or open_blob_store(None, Path(".stateline") / "blobs")
        self.shard = self.leases.shard
        self.owners = Owners([self.shard])

    # -- membership ----------------------------------------------------------------

    def set_members(self, members: list[str]) -> None:
        """The live (not draining) shards as the registry lists them now."""
        self.owners = Owners(members)
        changed, self._view_changed = self._view_changed, asyncio.Event()
        changed.set()

    def is_owner(self, room: str) -> bool:
        return self.owners.owner(room) == self.shard

    # -- requests --------------------------------------------------------------------

    async def read(self, room_id: str) -> dict[str, Any]:
        return (await self._active(room_id)).view(room_id)

    async def position(self, room_id: str, player: str) -> dict[str, Any]:
        room = await self._active(room_id)
        if player not in room.players:
            raise RoomError(404, "not_in_room", f"player {player} is not in room {room_id}")
        x, y = room.players[player]
        return {"room_id": room_id, "player_id": player, "x": x, "y": y}

    async def join(self, room_id: str, player: str, x: float, y: float) -> tuple[bool, dict]:
        """Add ``player`` at (x, y); (False, position) if already in the room (no change)."""
        check_coords(x, y)
        async with self._lock(room_id):
            room = await self._active(room_id, locked=True)
            if player in room.players:
                px, py = room.players[player]
                return False, {"room_id": room_id, "player_id": player, "x": px, "y": py}
            if len(room.players) >= MAX_PLAYERS:
                raise RoomError(409, "room_full", f"room {room_id} has {MAX_PLAYERS} players")
            await self._write(room_id, room, {"op": "join", "player": player, "x": x, "y": y})
        return True, {"room_id": room_id, "player_id": player, "x": x, "y": y}

    async def move(self, room_id: str, player: str, x: float, y: float) -> dict[str, Any]:
        check_coords(x, y)
        async with self._lock(room_id):
            room = await self._active(room_id, locked=True)
            if player not in room.players:
                raise RoomError(404, "not_in_room",
                                f"player {player} is not in room {room_id}; join first")
            await self._write(room_id, room, {"op": "move", "player": player, "x": x, "y": y})
        return {"room_id": room_id, "player_id": player, "x": x, "y": y}

    async def leave(self, room_id: str, player: str) -> None:
        async with self._lock(room_id):
            room = await self._active(room_id, locked=True)
            if player not in room.players:
                raise RoomError(404, "not_in_room", f"player {player} is not in room {room_id}")
            await self._write(room_id, room, {"op": "leave", "player": player})

    # -- ownership ---------------------------------------------------------------------

    def _count(self, name: str) -> None:
        self.counters[name] += 1  # stateline: allow[SL105] this shard's own counters, shown per shard by /_stateline/shard, not shared data

    def _lock(self, room_id: str) -> asyncio.Lock:
        lock = self._locks.get(room_id)
        if lock is None:
            lock = self._locks[room_id] = asyncio.Lock()  # stateline: allow[SL104] one asyncio lock per room this shard serves: serialises its writes
        return lock

    async def _active(self, room_id: str, *, locked: bool = False,
                      waited: bool = False) -> Room:
        """The room in memory, reactivated first if rendezvous gives it to us; else refuse.

        ``locked``: the caller holds the room's lock already (the write paths).

        A room that is not ours is refused only after waiting up to ``view_wait_s``
        for the next membership view: during a change the gateway often knows
        first (a draining shard, say), and a refusal from every shard whose view
        is a poll behind would reach the client; one poll later we may own it.
        """
        action = decide(self.holdings.get(room_id), self.is_owner(room_id), self.draining,
                        self.clock())
        if action is Action.SERVE:
            return self.rooms[room_id]
        if action is Action.MISDIRECTED:
            if self.view_wait_s > 0 and not waited:
                changed = self._view_changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), self.view_wait_s)
                if changed.is_set():
                    return await self._active(room_id, locked=locked, waited=True)
            self._count("misdirected")
            owner = self.owners.owner(room_id)
            raise Refusal(421, "misdirected", f"room {room_id} is not served by {self.shard}"
                          + (f"; its owner is {owner}" if owner else ""), owner=owner)
        if locked:
            return await self._activate(room_id)
        async with self._lock(room_id):  # one activation; the others wait, then serve
            return await self._active(room_id, locked=True)

    async def _activate(self, room_id: str) -> Room:
        got = await self.leases.acquire(room_id)
        if isinstance(got, Refused):
            self._drop(room_id)
            holder = shard_of(got.holder)
            if holder in self.owners.members:
                # A live shard still serves it (its handoff has not happened yet): it is
                # the right one to ask now, so refuse the way the gateway retries.
                self._count("misdirected")
                raise Refusal(421, "misdirected", f"room {room_id} is still served by "
                              f"{holder}; ask it", owner=holder)
            raise Refusal(503, "room_unavailable",
                          f"room {room_id} is still held by {got.holder}; retry shortly",
                          retry_after=max(0.1, got.remaining_s))
        try:
            room = await self._load(room_id)
        except BaseException:
            with contextlib.suppress(RedisError, OSError):
                await self.leases.release(room_id, got.token)
            raise
        self.rooms[room_id], self.holdings[room_id] = room, got  # stateline: allow[SL105] the shard's deliberate state: leased, logged, snapshotted, rebuilt elsewhere (docs/shards.md)
        self._count("activations")
        return room

    async def _load(self, room_id: str) -> Room:
        """Snapshot, then every log entry after it."""
        room = Room()
        pointer = await self.log.snapshot_pointer(room_id)
        if pointer is not None:
            state = await snapshots.load(self.blobs, pointer["blob"])
            if state is None:
                raise RuntimeError(f"room {room_id}: snapshot blob {pointer['blob']} is missing")
            room = Room.from_state(state)
        async for entry_id, event in self.log.replay(room_id, room.last):
            room.apply(event)
            room.last = entry_id
            room.since_snapshot += 1
        return room

    def _drop(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)  # stateline: allow[SL105] the shard's deliberate state: leased, logged, snapshotted, rebuilt elsewhere (docs/shards.md)
        self.holdings.pop(room_id, None)  # stateline: allow[SL105] the shard's deliberate state: leased, logged, snapshotted, rebuilt elsewhere (docs/shards.md)

    async def _write(self, room_id: str, room: Room, event: dict[str, Any]) -> None:
        """Log ``event`` under our token, then apply it: the acknowledgement follows this."""
        holding = self.holdings[room_id]
        try:
            entry = await self.log.append(room_id, holding.token, event)  # stateline: allow[SL104] RoomLog.append is a fenced XADD to Redis, not a list in memory
        except Fenced:
            self._count("fenced")
            self._drop(room_id)
            raise Refusal(421, "misdirected", f"room {room_id} was taken over by another "
                          "shard") from None
        except BaseException:
            self._drop(room_id)  # did it land? the log knows: rebuild from it next time
            raise
        room.apply(event)
        room.last = entry
        room.since_snapshot += 1
        if room.since_snapshot >= self.snapshot_every and not room.snapshotting:
            # Off the write path: the blob write (an fsync) must not hold the room's lock.
            room.snapshotting = True
            task = asyncio.create_task(self._snapshot(room_id, room, holding.token))
            self._tasks.add(task)  # stateline: allow[SL105] snapshot tasks in flight, held so they are not garbage-collected mid-write
            task.add_done_callback(self._snapshot_done)

    def _snapshot_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("snapshot failed: %r", task.exception())  # the log still has it all

    async def _snapshot(self, room_id: str, room: Room, token: int) -> None:
        """Write the room as of now to the blob store and point the room at it.

        The state is copied before the first await, so writes that land while
        the blob is written are simply after ``last`` and are replayed.
        """
        state, last, counted = room.state(), room.last, room.since_snapshot
        try:
            blob = await snapshots.save(self.blobs, state)
            if await self.log.set_snapshot_pointer(room_id, token, blob, last):
                room.since_snapshot -= min(counted, room.since_snapshot)
                self._count("snapshots")
        finally:
            room.snapshotting = False

    # -- background work: renewal, rebalancing, draining ------------------------------------

    async def renew_all(self) -> None:
        """Extend every lease we hold; a lease lost is a room dropped at once."""
        for room_id, holding in list(self.holdings.items()):
            renewed = await self.leases.renew(room_id, holding.token)
            if self.holdings.get(room_id) is not holding:
                continue  # handed off or dropped meanwhile
            if renewed is None:
                self._count("lost_leases")
                log.warning("%s lost the lease of room %s", self.shard, room_id)
                self._drop(room_id)
            else:
                self.holdings[room_id] = renewed

    async def rebalance(self) -> list[str]:
        """Hand off the rooms rendezvous now gives to others (all of them when draining)."""
        owner_of = {room: self.is_owner(room) for room in self.holdings}
        moved = []
        for room_id in to_hand_off(self.holdings, owner_of, self.draining):
            if await self.hand_off(room_id):
                moved.append(room_id)
        return moved

    async def hand_off(self, room_id: str) -> bool:
        """Snapshot, release the lease, forget the room: its next owner starts from here."""
        async with self._lock(room_id):
            holding = self.holdings.get(room_id)
            room = self.rooms.get(room_id)
            if holding is None or room is None:
                return False
            if not (self.draining or not self.is_owner(room_id)):
                return False  # membership changed back meanwhile
            self._drop(room_id)  # stop serving first: no read after the release
            try:
                if room.since_snapshot:
                    await self._snapshot(room_id, room, holding.token)
            finally:
                await self.leases.release(room_id, holding.token)
        lock = self._locks.get(room_id)
        if lock is not None and not lock.locked() and not getattr(lock, "_waiters", None):
            del self._locks[room_id]  # nobody waits on it: a later request makes a new one
        self._count("handoffs")
        return True

    def stats(self) -> dict[str, Any]:
        return {"shard": self.shard, "holder": self.leases.holder, "rooms": len(self.rooms),
                "members": self.owners.members, "draining": self.draining,
                **self.counters}


def check_coords(x: float, y: float) -> None:
    for name, v in (("x", x), ("y", y)):
        if not -COORD_LIMIT <= v <= COORD_LIMIT:
            raise RoomError(400, "out_of_bounds",
                            f"{name} must be within ±{COORD_LIMIT:g} (got {v!r})")
