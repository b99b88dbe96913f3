"""The control plane's registry: app instances announce themselves in Redis, gateways watch.

Why a TTL heartbeat rather than register/deregister: an instance that is
SIGKILLed, or whose machine vanishes, never gets to deregister. Each instance
therefore keeps re-stating "I am alive until now + TTL"; a gateway treats every
entry whose deadline has passed as gone. A clean shutdown still deregisters at
once, and a graceful one first marks itself ``draining`` so gateways stop
sending new work while in-flight requests finish.

Layout (docs/architecture.md), all under one hash tag so a Redis Cluster keeps
them in one slot and a Lua script may touch them together:

- ``stateline:{stateline-registry}:members:<pool>``: sorted set, member =
  instance id, score = expiry in ms since the epoch;
- ``stateline:{stateline-registry}:info:<pool>``: hash, instance id -> JSON
  ``{"id", "address", "state", "pid"}``.

Deadlines are computed from Redis' own clock (``TIME`` inside the scripts), so
instances and gateways on machines whose clocks disagree still agree on who is
alive. Watchers also sweep expired entries, so the keys do not grow with every
instance that ever crashed.

Nothing here is needed to serve a request: if Redis is unreachable, a
registrar keeps retrying and a watcher keeps its last known membership.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from stateline.backoff import Backoff
from stateline.stores.redis import AsyncRedis, address_of

log = logging.getLogger(__name__)

HASH_TAG = "{stateline-registry}"
UP = "up"
DRAINING = "draining"

# KEYS: members, info. ARGV: id, ttl_ms, info JSON. Registers or refreshes one instance.
_HEARTBEAT = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return now_ms
"""

# KEYS: members, info. Sweeps expired entries, returns {id, info JSON, ...} of live ones.
_SNAPSHOT = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
  redis.call('HDEL', KEYS[2], unpack(expired))
end
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_ms, '+inf')
local out = {}
if #live > 0 then
  local infos = redis.call('HMGET', KEYS[2], unpack(live))
  for i, id in ipairs(live) do
    out[#out + 1] = id
    out[#out + 1] = infos[i] or false
  end
end
return out
"""

# KEYS: members, info. ARGV: id.
_REMOVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""


def members_key(pool: str) -> str:
    return f"stateline:{HASH_TAG}:members:{pool}"


def info_key(pool: str) -> str:
    return f"stateline:{HASH_TAG}:info:{pool}"


@dataclass(frozen=True, slots=True)
class Member:
    """One live instance of a pool, as a gateway sees it."""

    id: str
    address: str  # host:port
    state: str  # "up" | "draining"

    @property
    def draining(self) -> bool:
        return self.state == DRAINING


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def parse_snapshot(flat: list[bytes | str | None]) -> list[Member]:
    """Members from the snapshot script's flat ``[id, info, id, info...]`` reply, sorted by id.

    An entry whose info is missing or unreadable (a half-written or foreign
    entry) is skipped rather than failing the whole snapshot: one bad instance
    must not blind the gateway to the others.
    """
    members: list[Member] = []
    for i in range(0, len(flat) - 1, 2):
        raw_id, raw_info = flat[i], flat[i + 1]
        if raw_id is None or not raw_info:
            continue
        try:
            info = json.loads(_text(raw_info))
            member = Member(id=_text(raw_id), address=str(info["address"]),
                            state=str(info.get("state", UP)))
        except (ValueError, KeyError, TypeError):
            log.warning("registry: unreadable entry for %r skipped", raw_id)
            continue
        members.append(member)
    members.sort(key=lambda m: m.id)
    return members


class Registrar:
    """Keeps one app instance registered in ``pool`` while it runs.

    Heartbeats are serialised (one lock), so a heartbeat that was already on
    its way with state "up" can never land after ``drain`` and undo it, and
    ``stop`` lets the heartbeat task finish its current round before removing
    the entry, so no late heartbeat re-creates it.
    """

    def __init__(self, redis: AsyncRedis, pool: str, instance_id: str, address: str,
                 ttl_ms: int = 3000, interval_s: float = 1.0) -> None:
        if ttl_ms <= 0 or interval_s <= 0:
            raise ValueError("ttl_ms and interval_s must be > 0")
        if interval_s * 1000 >= ttl_ms:
            raise ValueError("interval_s must be shorter than ttl_ms, or the entry expires "
                             "between heartbeats")
        self.pool = pool
        self.instance_id = instance_id
        self.address = address
        self.ttl_ms = ttl_ms
        self.interval_s = interval_s
        self.state = UP
        self._redis = redis
        self._heartbeat_script = redis.register_script(_HEARTBEAT)
        self._remove_script = redis.register_script(_REMOVE)
        self._keys = [members_key(pool), info_key(pool)]
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _info(self) -> str:
        return json.dumps({"id": self.instance_id, "address": self.address,
                           "state": self.state, "pid": os.getpid()})

    async def _send(self) -> None:
        await self._heartbeat_script(keys=self._keys,
                                     args=[self.instance_id, self.ttl_ms, self._info()])

    async def heartbeat(self) -> None:
        """Register, or extend the registration by one TTL, with the current state."""
        async with self._lock:
            await self._send()

    async def start(self) -> None:
        """Register now and keep the registration alive in a background task.

        Errors from the first registration propagate: an instance that cannot
        register should know (and retry); later heartbeat errors are logged and
        retried on the next round.
        """
        await self.heartbeat()
        if self._task is None or self._task.done():
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name=f"registrar:{self.instance_id}")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            if self._stopping.is_set():
                return
            try:
                await self.heartbeat()
            except Exception as exc:  # the loop must outlive any one failed round
                log.warning("registry heartbeat for %s to %s failed: %r", self.instance_id,
                            address_of(self._redis), exc)

    async def drain(self) -> None:
        """Tell gateways to stop sending new work here; visible within one watcher interval."""
        async with self._lock:
            self.state = DRAINING
            await self._send()

    async def stop(self) -> None:
        """Stop the heartbeat and deregister, so gateways forget this instance at once.

        If the deregistration fails (Redis is gone), the entry still expires
        one TTL after the last heartbeat.
        """
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), self.ttl_ms / 1000)
            except TimeoutError:  # a heartbeat stuck on a dead connection
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        async with self._lock:
            await self._remove_script(keys=self._keys, args=[self.instance_id])


class RegistryWatcher:
    """Polls one pool's live members for a gateway."""

    def __init__(self, redis: AsyncRedis, pool: str, interval_s: float = 0.25) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.pool = pool
        self.interval_s = interval_s
        self._redis = redis
        self._snapshot_script = redis.register_script(_SNAPSHOT)
        self._keys = [members_key(pool), info_key(pool)]

    async def snapshot(self) -> list[Member]:
        """The live (unexpired) members, sorted by id; sweeps expired entries."""
        flat = await self._snapshot_script(keys=self._keys)
        return parse_snapshot(list(flat))

    async def watch(self) -> AsyncIterator[list[Member]]:
        """Yield the membership now, then again each time it changes (ids, addresses, states).

        Polls every ``interval_s``. A failed poll is retried with backoff (see
        :mod:`stateline.backoff`) and logged with the registry's address, not
        once per poll; the previous membership stays in force meanwhile,
        because an unreachable registry says nothing about whether the
        instances are alive.

        Consume it in its own task (``async for``); cancelling a pending
        ``anext()`` -- with ``asyncio.wait_for``, say -- closes the generator.
        """
        last: list[Member] | None = None
        backoff = Backoff(self.interval_s)
        while True:
            delay = self.interval_s
            try:
                current = await self.snapshot()
            except Exception as exc:  # keep watching whatever one poll ran into
                delay, loud = backoff.failed(time.monotonic())
                if loud:
                    log.warning("registry poll for pool %r at %s failed (%d in a row; retrying "
                                "with backoff, now every %.1fs): %r", self.pool,
                                address_of(self._redis), backoff.failures, delay, exc)
            else:
                if ended := backoff.succeeded():
                    log.warning("registry for pool %r at %s answers again after %d failed "
                                "polls", self.pool, address_of(self._redis), ended)
                if current != last:
                    last = current
                    yield current
            await asyncio.sleep(delay)
