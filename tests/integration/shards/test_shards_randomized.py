"""Kills, scale changes and moves interleaved at random, against real Redis.

Shards are :class:`RoomService` objects in this process (the real lease, log
and snapshot code; only the HTTP layer and the registry are left out). A
router plays the gateway: rendezvous over the live shards, and on a 421 the
other shards in turn; on a 503 (a lease not yet free) it waits a moment and
asks again. Membership changes reach the shards' views one by one, with
requests in between, the way registry polls do; and now and then the router
asks a random shard first, as a gateway with a stale view would.

Checked at the end and at random points:

- no acknowledged change is lost: every room reads exactly as the model of
  the acknowledged operations says;
- no room ever had two writers: in every room's log order, the fencing tokens
  of accepted appends never go back, and each token was used by one holder.

Nothing here depends on timing: lease TTLs are real time, but a lease that
expires early only costs a reactivation, and waits are bounded hang guards.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from stateline.shards.lease import room_key
from stateline.shards.log import RoomLog
from stateline.shards.rooms import Owners, Refusal, RoomError, RoomService
from stateline.stores.blobs import open_blob_store
from stateline.stores.redis import connect

HANG_GUARD_S = 60.0


class Recorder(RoomLog):
    """The real log, remembering which holder's append got which entry id."""

    def __init__(self, redis, holder: str, seen: list[tuple[str, str, int, str]]) -> None:
        super().__init__(redis)
        self.holder = holder
        self.seen = seen

    async def append(self, room: str, token: int, event: dict[str, object]) -> str:
        entry = await super().append(room, token, event)
        self.seen.append((room, entry, token, self.holder))
        return entry


class World:
    def __init__(self, redis, blobs: object, rng: random.Random) -> None:
        self.redis = redis
        self.blobs = blobs
        self.rng = rng
        self.live: dict[str, RoomService] = {}
        self.incarnation: dict[str, int] = defaultdict(int)
        self.appends: list[tuple[str, str, int, str]] = []
        self.model: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
        self.pending_views: list[str] = []  # shards whose view is not updated yet

    def start(self, shard: str) -> None:
        self.incarnation[shard] += 1
        holder = f"{shard}/{self.incarnation[shard]}"
        svc = RoomService(self.redis, self.blobs, holder, ttl_s=1.0, margin_s=0.2,
                          snapshot_every=5)
        svc.log = Recorder(self.redis, holder, self.appends)
        self.live[shard] = svc
        self.membership_changed()

    def membership_changed(self) -> None:
        self.pending_views = list(self.live)
        self.rng.shuffle(self.pending_views)

    async def propagate_one(self) -> None:
        """One more shard sees the current membership and hands off what moved."""
        while self.pending_views:
            shard = self.pending_views.pop()
            svc = self.live.get(shard)
            if svc is not None:
                svc.set_members(sorted(self.live))
                await svc.rebalance()
                return

    async def kill(self, shard: str) -> None:
        del self.live[shard]  # memory gone, leases left behind in Redis
        self.membership_changed()

    async def drain(self, shard: str) -> None:
        svc = self.live.pop(shard)
        svc.draining = True
        await svc.rebalance()
        self.membership_changed()

    async def call(self, room: str, op: str, *args: object) -> object:
        """Route like the gateway until some shard answers; returns its answer."""
        deadline = time.monotonic() + HANG_GUARD_S
        while time.monotonic() < deadline:
            owner = Owners(sorted(self.live)).owner(room)
            if self.rng.random() < 0.3:  # a gateway with a stale view, or a retry
                owner = self.rng.choice(sorted(self.live))
            order = [owner] + [s for s in sorted(self.live) if s != owner]
            for shard in order:
                svc = self.live.get(shard)
                if svc is None:
                    continue
                try:
                    return await getattr(svc, op)(room, *args)
                except Refusal as exc:
                    if exc.status == 421:
                        continue
                    break  # 503: the lease is not free yet
            await self.propagate_one()
            await asyncio.sleep(0.02)
        raise AssertionError(f"{op} on {room} found no shard within {HANG_GUARD_S}s")

    async def step(self, rooms: list[str], players: list[str]) -> None:
        room, player = self.rng.choice(rooms), self.rng.choice(players)
        here = self.model[room]
        roll = self.rng.random()
        if roll < 0.2 and player not in here:
            x, y = float(self.rng.randint(-100, 100)), float(self.rng.randint(-100, 100))
            await self.call(room, "join", player, x, y)
            here[player] = (x, y)
        elif roll < 0.3 and player in here:
            await self.call(room, "leave", player)
            del here[player]
        elif roll < 0.8 and player in here:
            x, y = self.rng.uniform(-1e3, 1e3), self.rng.uniform(-1e3, 1e3)
            await self.call(room, "move", player, x, y)
            here[player] = (x, y)
        else:
            await self.check(room)

    async def check(self, room: str) -> None:
        view = await self.call(room, "read")
        got = {p["player_id"]: (p["x"], p["y"]) for p in view["players"]}  # type: ignore[index]
        assert got == self.model[room], f"room {room} lost acknowledged changes"

    def check_single_writer(self) -> None:
        by_room: dict[str, list[tuple[tuple[int, int], int, str]]] = defaultdict(list)
        holders_of: dict[tuple[str, int], set[str]] = defaultdict(set)
        for room, entry, token, holder in self.appends:
            ms, seq = entry.split("-")
            by_room[room].append(((int(ms), int(seq)), token, holder))
            holders_of[(room, token)].add(holder)
        for room, entries in by_room.items():
            tokens = [t for _, t, _ in sorted(entries)]
            assert tokens == sorted(tokens), f"room {room}: an older token wrote after a newer"
        assert all(len(h) == 1 for h in holders_of.values()), "one token, two writers"


async def _run(redis_url: str, tmp_path: Path, seed: int, steps: int) -> World:
    redis = connect(redis_url)
    rng = random.Random(seed)
    world = World(redis, open_blob_store(None, tmp_path / "blobs"), rng)
    tag = uuid.uuid4().hex[:6]
    rooms = [f"r{tag}-{i}" for i in range(8)]
    players = [f"p{i}" for i in range(5)]
    names = [f"shard-{i}" for i in range(1, 6)]
    try:
        for name in names[:3]:
            world.start(name)
        for _ in range(steps):
            roll = rng.random()
            if roll < 0.03 and len(world.live) > 1:
                await world.kill(rng.choice(sorted(world.live)))
            elif roll < 0.06 and len(world.live) > 1:
                await world.drain(rng.choice(sorted(world.live)))
            elif roll < 0.10 and len(world.live) < len(names):
                world.start(rng.choice([n for n in names if n not in world.live]))
            elif roll < 0.2:
                await world.propagate_one()
            elif roll < 0.25 and world.live:
                await world.live[rng.choice(sorted(world.live))].renew_all()
            else:
                await world.step(rooms, players)
        for room in rooms:
            await world.check(room)
        world.check_single_writer()
        return world
    finally:
        await redis.aclose()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_acknowledged_change_is_lost_and_no_room_has_two_writers(
        redis_url: str, tmp_path: Path, seed: int) -> None:
    world = asyncio.run(_run(redis_url, tmp_path, seed, steps=300))
    assert world.appends, "the run made no writes at all"


def test_the_same_on_a_redis_cluster(redis_cluster_url: str, tmp_path: Path) -> None:
    world = asyncio.run(_run(redis_cluster_url, tmp_path, seed=7, steps=150))
    assert world.appends


def test_a_fenced_writer_is_refused_by_the_log_itself(redis_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        redis = connect(redis_url)
        try:
            blobs = open_blob_store(None, tmp_path / "blobs")
            room = f"fence-{uuid.uuid4().hex[:6]}"
            old = RoomService(redis, blobs, "shard-1/a", ttl_s=5.0, margin_s=0.5)
            await old.join(room, "ada", 1.0, 2.0)
            # shard-1 restarts: the new incarnation takes the lease over with a new token
            new = RoomService(redis, blobs, "shard-1/b", ttl_s=5.0, margin_s=0.5)
            assert (await new.read(room))["players"] == [{"player_id": "ada", "x": 1.0, "y": 2.0}]
            with pytest.raises(Refusal) as refused:
                await old.move(room, "ada", 9.0, 9.0)  # still "valid" locally, fenced in Redis
            assert refused.value.status == 421
            assert room not in old.rooms
            await new.move(room, "ada", 3.0, 4.0)
            tokens = [int(f[b"t"]) for _, f in await redis.xrange(room_key(room, "log"))]
            assert tokens == sorted(tokens) and tokens[-1] == 2
        finally:
            await redis.aclose()

    asyncio.run(go())


def test_handoff_snapshots_then_the_next_owner_reads_the_same_room(
        redis_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        redis = connect(redis_url)
        try:
            blobs = open_blob_store(None, tmp_path / "blobs")
            room = f"move-{uuid.uuid4().hex[:6]}"
            a = RoomService(redis, blobs, "shard-1/a", snapshot_every=1000)
            b = RoomService(redis, blobs, "shard-2/a")
            for s in (a, b):
                s.set_members(["shard-1"])
            await a.join(room, "ada", 0.0, 0.0)
            await a.move(room, "ada", 5.0, 6.0)
            with pytest.raises(Refusal):
                await b.read(room)
            for s in (a, b):
                s.set_members(["shard-2"])
            with pytest.raises(Refusal) as held:
                await b.read(room)  # a still holds the lease: not free yet
            assert held.value.status == 503
            assert await a.rebalance() == [room]
            assert a.counters["snapshots"] == 1 and room not in a.rooms
            with pytest.raises(Refusal) as gone:
                await a.read(room)
            assert gone.value.status == 421 and gone.value.owner == "shard-2"
            assert (await b.position(room, "ada"))["x"] == 5.0
            with pytest.raises(RoomError):
                await b.move(room, "bob", 1.0, 1.0)
        finally:
            await redis.aclose()

    asyncio.run(go())


def test_a_late_snapshot_never_points_behind_a_newer_one(redis_url: str, tmp_path: Path) -> None:
    """Two snapshots of one room finishing out of order: the newer pointer stays."""
    async def go() -> None:
        redis = connect(redis_url)
        try:
            blobs = open_blob_store(None, tmp_path / "blobs")
            room = f"snap-{uuid.uuid4().hex[:6]}"
            svc = RoomService(redis, blobs, "shard-1/a", snapshot_every=10_000)
            await svc.join(room, "ada", 0.0, 0.0)
            old_last = svc.rooms[room].last
            await svc.move(room, "ada", 1.0, 1.0)
            new_last = svc.rooms[room].last
            token = svc.holdings[room].token
            assert await svc.log.set_snapshot_pointer(room, token, "b" * 64, new_last)
            assert await svc.log.set_snapshot_pointer(room, token, "a" * 64, old_last)
            pointer = await svc.log.snapshot_pointer(room)
            assert pointer == {"blob": "b" * 64, "last": new_last}
        finally:
            await redis.aclose()

    asyncio.run(go())


def test_a_new_owner_sends_requests_back_to_the_live_holder_until_it_hands_off(
        redis_url: str, tmp_path: Path) -> None:
    """Scale-up: shard-2 joins and owns the room, shard-1 still holds it: 421 → shard-1."""
    async def go() -> None:
        redis = connect(redis_url)
        try:
            blobs = open_blob_store(None, tmp_path / "blobs")
            both = Owners(["shard-1", "shard-2"])
            room = next(r for r in (f"up-{uuid.uuid4().hex[:6]}" for _ in range(100))
                        if both.owner(r) == "shard-2")
            a = RoomService(redis, blobs, "shard-1/a")
            b = RoomService(redis, blobs, "shard-2/a")
            a.set_members(["shard-1"])
            await a.join(room, "ada", 1.0, 1.0)
            b.set_members(["shard-1", "shard-2"])  # b saw the new membership first
            with pytest.raises(Refusal) as refused:
                await b.move(room, "ada", 2.0, 2.0)
            assert (refused.value.status, refused.value.owner) == (421, "shard-1")
            await a.move(room, "ada", 2.0, 2.0)  # the gateway's retry: the holder serves
            a.set_members(["shard-1", "shard-2"])
            assert await a.rebalance() == [room]
            assert (await b.position(room, "ada"))["x"] == 2.0
        finally:
            await redis.aclose()

    asyncio.run(go())


def test_a_request_for_a_room_not_yet_ours_waits_for_the_next_view(
        redis_url: str, tmp_path: Path) -> None:
    """A drain seen by the gateway a poll earlier than by this shard: served, not refused."""
    async def go() -> None:
        redis = connect(redis_url)
        try:
            svc = RoomService(redis, open_blob_store(None, tmp_path / "blobs"), "shard-1/a",
                              view_wait_s=HANG_GUARD_S)
            room = f"wait-{uuid.uuid4().hex[:6]}"
            svc.set_members(["shard-1", "shard-2"])
            if svc.is_owner(room):
                svc.set_members(["shard-2", "shard-3"])  # someone else's in this view
            reading = asyncio.create_task(svc.read(room))
            await asyncio.sleep(0)
            assert not reading.done()
            svc.set_members(["shard-1"])  # the next poll: the other shards left
            assert (await reading)["players"] == []
            assert svc.counters["misdirected"] == 0
            svc.view_wait_s = 0.01
            svc.set_members(["shard-2"])
            with pytest.raises(Refusal):  # no newer view comes: refused after the wait
                await svc.read(f"other-{uuid.uuid4().hex[:6]}")
        finally:
            await redis.aclose()

    asyncio.run(go())
