"""Registrar and RegistryWatcher against a real Redis and a real Redis Cluster."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from stateline.local.procs import free_port
from stateline.registry import Member, Registrar, RegistryWatcher, info_key, members_key
from stateline.stores.redis import AsyncRedis, connect

WATCH_INTERVAL = 0.1


@pytest.fixture(params=["single", pytest.param("cluster", marks=pytest.mark.slow)])
def store_url(request: pytest.FixtureRequest) -> str:
    name = "redis_url" if request.param == "single" else "redis_cluster_url"
    return str(request.getfixturevalue(name))


def run(store_url: str, body: Callable[[AsyncRedis, str], Awaitable[None]]) -> None:
    """Run ``body(client, pool)`` on a fresh client and a pool name no other test uses."""

    async def main() -> None:
        redis = connect(store_url)
        try:
            await asyncio.wait_for(body(redis, f"test-{uuid.uuid4().hex[:10]}"), 30)
        finally:
            await redis.aclose()

    asyncio.run(main())


class Changes:
    """Consumes ``watcher.watch()`` in a task, as a gateway would, and queues what it yields.

    Tests wait on the queue, never on the generator itself: cancelling a pending
    ``anext()`` (say by a timeout) would close the generator for good.
    """

    def __init__(self, watcher: RegistryWatcher) -> None:
        self.queue: asyncio.Queue[list[Member]] = asyncio.Queue()
        self._task = asyncio.create_task(self._consume(watcher.watch()))

    async def _consume(self, changes: AsyncIterator[list[Member]]) -> None:
        async for members in changes:
            self.queue.put_nowait(members)

    async def next(self, within: float) -> list[Member]:
        return await asyncio.wait_for(self.queue.get(), within)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def test_registered_instance_is_seen_by_a_watcher(store_url: str) -> None:
    async def body(redis: AsyncRedis, pool: str) -> None:
        registrar = Registrar(redis, pool, "app-1", "127.0.0.1:8001")
        await registrar.start()
        try:
            assert await RegistryWatcher(redis, pool).snapshot() == [
                Member("app-1", "127.0.0.1:8001", "up")]
        finally:
            await registrar.stop()

    run(store_url, body)


def test_heartbeats_keep_an_instance_alive_past_its_ttl(store_url: str) -> None:
    async def body(redis: AsyncRedis, pool: str) -> None:
        registrar = Registrar(redis, pool, "app-1", "h:1", ttl_ms=600, interval_s=0.1)
        watcher = RegistryWatcher(redis, pool)
        await registrar.start()
        try:
            for _ in range(8):  # 1.2 s: two TTLs
                await asyncio.sleep(0.15)
                assert [m.id for m in await watcher.snapshot()] == ["app-1"]
        finally:
            await registrar.stop()

    run(store_url, body)


def test_stop_deregisters_at_once(store_url: str) -> None:
    async def body(redis: AsyncRedis, pool: str) -> None:
        registrar = Registrar(redis, pool, "app-1", "h:1")
        await registrar.start()
        await registrar.stop()
        assert await RegistryWatcher(redis, pool).snapshot() == []
        assert registrar._task is None

    run(store_url, body)


_KILLED_INSTANCE = """
import asyncio, sys
from stateline.registry import Registrar
from stateline.stores.redis import connect

async def main():
    registrar = Registrar(connect(sys.argv[1]), sys.argv[2], "doomed", "127.0.0.1:9",
                          ttl_ms=700, interval_s=0.1)
    await registrar.start()
    print("registered", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_a_killed_instance_expires_after_its_ttl_and_is_swept(store_url: str) -> None:
    pool = f"test-{uuid.uuid4().hex[:10]}"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_INSTANCE, store_url, pool],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "registered"
        time.sleep(0.3)  # a few heartbeats

        async def body(redis: AsyncRedis, _: str) -> None:
            watcher = RegistryWatcher(redis, pool)
            assert [m.id for m in await watcher.snapshot()] == ["doomed"]
            os.kill(proc.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            while await watcher.snapshot():
                await asyncio.sleep(0.02)
                assert time.monotonic() - killed_at < 3.0
            gone_after = time.monotonic() - killed_at
            # The TTL (0.7 s) counts from the last heartbeat, up to 0.1 s before the kill;
            # the margins absorb a loaded CI machine.
            assert 0.3 <= gone_after <= 1.5
            assert await redis.zcard(members_key(pool)) == 0
            assert await redis.hlen(info_key(pool)) == 0

        run(store_url, body)
    finally:
        proc.kill()
        proc.wait(10)


def test_drain_is_visible_to_a_watcher_within_one_interval(store_url: str) -> None:
    async def body(redis: AsyncRedis, pool: str) -> None:
        registrar = Registrar(redis, pool, "app-1", "h:1", interval_s=0.02)  # busy heartbeats
        await registrar.start()
        changes = Changes(RegistryWatcher(redis, pool, interval_s=WATCH_INTERVAL))
        try:
            assert [m.state for m in await changes.next(2.0)] == ["up"]
            await asyncio.sleep(0.05)
            await registrar.drain()
            drained_at = time.monotonic()
            assert [m.state for m in await changes.next(2.0)] == ["draining"]
            assert time.monotonic() - drained_at <= WATCH_INTERVAL + 0.3  # + slack for CI
            with pytest.raises(TimeoutError):  # no heartbeat in flight flips it back to "up"
                await changes.next(0.5)
        finally:
            await changes.close()
            await registrar.stop()

    run(store_url, body)


def test_no_heartbeat_outlives_stop(store_url: str) -> None:
    async def body(redis: AsyncRedis, pool: str) -> None:
        registrar = Registrar(redis, pool, "app-1", "h:1", interval_s=0.01)
        await registrar.start()
        await asyncio.sleep(0.1)
        await registrar.stop()
        await asyncio.sleep(0.1)
        assert await redis.zcard(members_key(pool)) == 0
        assert await RegistryWatcher(redis, pool).snapshot() == []

    run(store_url, body)


def test_watcher_yields_on_every_change_and_only_then(store_url: str) -> None:
    async def body(redis: AsyncRedis, pool: str) -> None:
        changes = Changes(RegistryWatcher(redis, pool, interval_s=WATCH_INTERVAL))
        a = Registrar(redis, pool, "app-a", "h:1", interval_s=0.05)
        b = Registrar(redis, pool, "app-b", "h:2", interval_s=0.05)
        try:
            assert await changes.next(2.0) == []
            await a.start()
            assert [m.id for m in await changes.next(2.0)] == ["app-a"]
            await b.start()
            assert [m.id for m in await changes.next(2.0)] == ["app-a", "app-b"]
            with pytest.raises(TimeoutError):  # heartbeats alone are not a change
                await changes.next(5 * WATCH_INTERVAL)
            await a.stop()
            assert [m.id for m in await changes.next(2.0)] == ["app-b"]
        finally:
            await changes.close()
            await a.stop()
            await b.stop()

    run(store_url, body)


def test_pools_do_not_see_each_others_members(store_url: str) -> None:
    async def body(redis: AsyncRedis, pool: str) -> None:
        mine = Registrar(redis, pool, "app-1", "h:1")
        theirs = Registrar(redis, pool + "-other", "app-9", "h:9")
        await mine.start()
        await theirs.start()
        try:
            assert [m.id for m in await RegistryWatcher(redis, pool).snapshot()] == ["app-1"]
        finally:
            await mine.stop()
            await theirs.stop()

    run(store_url, body)


def test_watcher_survives_an_unreachable_registry() -> None:
    async def body() -> None:
        redis = connect(f"redis://127.0.0.1:{free_port()}/0")
        changes = Changes(RegistryWatcher(redis, "apps", interval_s=WATCH_INTERVAL))
        try:
            with pytest.raises(TimeoutError):  # keeps polling; no exception, no bogus "empty"
                await changes.next(4 * WATCH_INTERVAL)
        finally:
            await changes.close()
            await redis.aclose()

    asyncio.run(body())


@pytest.mark.slow
def test_registry_keys_share_one_cluster_slot_as_the_gateway_computes_it(
        redis_cluster_url: str) -> None:
    """CLUSTER KEYSLOT from real nodes agrees with the hash_slot balancer's own arithmetic."""
    from stateline.gateway.balancers.hash_slot import key_slot

    async def body(redis: AsyncRedis, pool: str) -> None:
        keys = [members_key(pool), info_key(pool)]
        slots = {await redis.cluster_keyslot(k) for k in keys}  # type: ignore[union-attr]
        assert slots == {key_slot(k.encode()) for k in keys}
        assert len(slots) == 1
        for key in ("foo", "somekey", "{user1000}.following", pool):
            assert await redis.cluster_keyslot(key) == key_slot(key.encode())  # type: ignore[union-attr]

    run(redis_cluster_url, body)
