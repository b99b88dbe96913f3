"""The lean Redis read path answers exactly what the full client answers, and falls back to it.

Real servers only: the session's single redis-server and its Redis Cluster. Every
fallback case makes the lean attempt fail for real (a killed connection, a genuine
``MOVED`` from a node that does not own the slot, a cancelled read, no free
connection) and checks the answer is still right and the next reads are not out of
step with their replies.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from stateline.stores import redis as store
from stateline.stores.redis_fast import FastRedis, wrap

pytestmark = pytest.mark.timeout(60)


def _run(url: str, body: Callable[[FastRedis], Awaitable[Any]], **kwargs: Any) -> Any:
    async def main() -> Any:
        fast = wrap(store.connect_bounded(url, decode_responses=True), **kwargs)
        try:
            await fast.ping()  # as the app does before it serves: loads a cluster's slot map
            return await body(fast)
        finally:
            await fast.aclose()
    return asyncio.run(main())


@pytest.fixture(params=["redis", "redis-cluster"])
def url(request: pytest.FixtureRequest) -> str:
    name = "redis_url" if request.param == "redis" else "redis_cluster_url"
    return str(request.getfixturevalue(name))


def _keys() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:10]
    return f"t:{{{tag}}}:s", f"t:{{{tag}}}:h"


def test_reads_answer_what_the_full_client_answers(url: str) -> None:
    skey, hkey = _keys()

    async def body(fast: FastRedis) -> None:
        full = fast.client
        assert await fast.get(skey) is None and await fast.hgetall(hkey) == {}
        assert await fast.hmget(hkey, ["x", "y"]) == [None, None]
        await full.set(skey, "héllo")
        await full.hset(hkey, mapping={"x": "1.5", "y": "2"})
        assert await fast.get(skey) == await full.get(skey) == "héllo"
        assert await fast.hgetall(hkey) == await full.hgetall(hkey) == {"x": "1.5", "y": "2"}
        assert await fast.hmget(hkey, ["y", "z"]) == await full.hmget(hkey, ["y", "z"])
        # Everything else is the full client's own method.
        assert await fast.incr(skey + "n") == 1
    _run(url, body)


def test_an_error_reply_is_raised_as_the_full_client_raises_it(url: str) -> None:
    skey, _ = _keys()

    async def body(fast: FastRedis) -> None:
        await fast.client.set(skey, "a string")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await fast.hgetall(skey)
        assert await fast.get(skey) == "a string"  # the connection is still in step
    _run(url, body)


def test_a_killed_connection_falls_back_and_the_read_still_answers(url: str) -> None:
    skey, _ = _keys()

    async def body(fast: FastRedis) -> None:
        await fast.client.set(skey, "v")
        assert await fast.get(skey) == "v"  # the lean connection is open now
        if not isinstance(fast.client, RedisCluster):
            # The single-server client's own pooled connections would die too, and it does
            # not retry a closed one (that was so before the lean path): only ours should.
            await fast.client.connection_pool.disconnect()
        # Kill every normal client connection but the killer's own: the lean one too.
        killer = store.connect_sync(url)
        try:
            killer.client_kill_filter(_type="normal", skipme=True)
        finally:
            killer.close()
        for _ in range(3):
            assert await fast.get(skey) == "v"
    _run(url, body)


def test_a_moved_reply_is_followed_by_the_full_client(redis_cluster_url: str) -> None:
    skey, _ = _keys()

    async def body(fast: FastRedis) -> None:
        client: Any = fast.client
        await client.set(skey, "moved-ok")
        slot = client.keyslot(skey)
        owner = client.nodes_manager.slots_cache[slot][0]
        other = next(n for n in client.get_primaries() if n.name != owner.name)
        client.nodes_manager.slots_cache[slot] = [other]  # a stale map: other answers MOVED
        assert await fast.get(skey) == "moved-ok"
        assert client.nodes_manager.slots_cache[slot][0].name == owner.name  # map repaired
    _run(redis_cluster_url, body)


def test_a_cancelled_read_leaves_later_reads_in_step(url: str) -> None:
    skey, hkey = _keys()

    async def body(fast: FastRedis) -> None:
        await fast.client.set(skey, "first")
        await fast.client.hset(hkey, "f", "second")
        pauser = store.connect_sync(url)
        try:
            node = {"target_nodes": pauser.get_node_from_key(skey)} \
                if hasattr(pauser, "get_node_from_key") else {}
            pauser.client_pause(300, **node)  # the reply to the read below comes late
            task = asyncio.create_task(fast.get(skey))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            pauser.close()
        # Had the cancelled read's connection been reused, this would get "first".
        assert await fast.hgetall(hkey) == {"f": "second"}
        assert await fast.get(skey) == "first"
    _run(url, body)


def test_more_reads_than_lean_connections_overflow_to_the_full_client(redis_url: str) -> None:
    skey, _ = _keys()

    async def body(fast: FastRedis) -> None:
        await fast.client.set(skey, "x")
        answers = await asyncio.gather(*(fast.get(skey) for _ in range(50)))
        assert answers == ["x"] * 50
        assert len(fast._made) <= 2
    _run(redis_url, body, size=2)


def test_a_batch_answers_each_read_from_its_own_reply(url: str) -> None:
    tag = uuid.uuid4().hex[:10]
    keys = [f"t:{{{tag}-{i}}}" for i in range(30)]

    async def body(fast: FastRedis) -> None:
        for i, key in enumerate(keys):
            if i % 3 == 0:
                await fast.client.set(key, f"s{i}")
            else:
                await fast.client.hset(key, mapping={"x": str(i), "y": "-"})
        reads: list[Awaitable[Any]] = []
        for i, key in enumerate(keys):
            reads.append(fast.get(key) if i % 3 == 0 else
                         fast.hgetall(key) if i % 3 == 1 else fast.hmget(key, ["x", "z"]))
        reads.insert(7, fast.hgetall(keys[0]))  # WRONGTYPE in the middle of the batch
        answers = await asyncio.gather(*reads, return_exceptions=True)
        assert isinstance(answers.pop(7), ResponseError)
        for i, answer in enumerate(answers):
            want = f"s{i}" if i % 3 == 0 else \
                {"x": str(i), "y": "-"} if i % 3 == 1 else [str(i), None]
            assert answer == want, i
    _run(url, body)


@pytest.mark.parametrize("args", [
    ("GET", "plain"),
    ("HMGET", "stateline:player:{héllo}", "x", "y"),
    ("HGETALL", "k" * 70_000),  # longer than redis-py's buffer cut-off: still one run of bytes
])
def test_the_c_packer_writes_the_bytes_redis_py_writes(
    redis_url: str, args: tuple[str, ...]
) -> None:
    async def body(fast: FastRedis) -> None:
        assert fast._hiredis_packs  # the app's client: UTF-8, strict
        conn = fast.client.connection_pool.make_connection()
        assert fast._pack(conn, [args, args]) == b"".join(conn.pack_commands([args, args]))
    _run(redis_url, body)


def test_another_text_encoding_keeps_redis_py_s_own_packer(redis_url: str) -> None:
    key = f"t:{uuid.uuid4().hex[:10]}:é"

    async def main() -> None:
        fast = wrap(store.connect_bounded(redis_url, encoding="latin-1", decode_responses=True))
        raw = store.connect_bounded(redis_url)
        try:
            assert not fast._hiredis_packs
            await fast.client.set(key, "café")
            assert await fast.get(key) == "café"  # the key went out in latin-1
            assert await raw.get(key.encode("latin-1")) == "café".encode("latin-1")
        finally:
            await fast.aclose()
            await raw.aclose()
    asyncio.run(main())
