"""A lean first attempt for Redis reads, on redis-py's own connections; the full client behind it.

Why: profiles of ``GET /api/counter`` under load (py-spy, ``docs/performance.md``)
showed redis-py 8's asyncio ``execute_command`` spending most of its time
outside the round trip: the blocking pool's condition and timeout, the
connection health read on every checkout, the retry wrapper, observability
hooks, event dispatch and the ``deprecated_args`` wrapper. For a read of one
key none of it is needed while the connection is fine.

What: :class:`FastRedis` wraps the client from :mod:`stateline.stores.redis`
and answers ``get``/``hgetall``/``hmget`` through a short path of redis-py's
own parts: the same connection class, hiredis parser and response callbacks,
and hiredis's C packer (the one redis-py's sync client uses; the asyncio
connection packs in Python, about 8 us a command against 1 us here). For a
cluster it finds the key's slot owner in the client's slot map
(``nodes_manager.slots_cache``) and uses that node's connections, the same
ones the cluster client uses; for a single server it keeps up to ``size``
connections of its own, made by the client's pool.

Batching: reads that arrive in the same turn of the event loop for the same
server are sent together, as one pipeline (one write, one wake-up for the
replies), by one task per batch: under load that shares a write syscall, its
timeout timer and the reply's wake-up among all of them instead of paying
each per request -- the largest items in the profile once the client's own
overhead was gone. A batch holds only what was already waiting: a lone read
goes out at once, alone.

Safety: the short path is only ever a first attempt. Anything but a plain
reply -- no free connection, an empty slot map, ``MOVED``/``ASK``,
``TRYAGAIN``, ``CLUSTERDOWN``, a connection error or timeout, any error
reply -- sends the command again through the wrapped client's full
``execute_command``, with its retries, redirections, slot map refresh and
failover handling, exactly as before; an error reply sends only its own
command there, the rest of its batch is answered. Only reads take the short
path (a repeated read changes nothing), so the retry adds no risk; every
other method and attribute is the wrapped client's, unchanged. A request
cancelled while its read is in a batch only stops waiting: the batch still
reads every reply, so the connection never falls out of step.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import hiredis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ResponseError

from stateline.stores.redis import AsyncRedis


class _Fallback:
    """The answer "ask the full client": the short path could not give a plain reply."""


FALLBACK = _Fallback()


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():  # a cancelled request no longer waits for its answer
        future.set_result(value)


class FastRedis:
    """``client`` with a lean, batched first attempt for single-key reads (module docstring)."""

    def __init__(self, client: AsyncRedis, size: int = 64) -> None:
        self.client = client
        self._cluster = isinstance(client, RedisCluster)
        self._callbacks = client.response_callbacks
        self._encoder = (client.encoder if self._cluster
                         else client.connection_pool.get_encoder())
        self._size = size
        # hiredis packs in C what redis-py's asyncio connection packs in Python (redis-py's
        # sync client uses the same function); it encodes text as strict UTF-8, so only
        # then is it byte for byte the same packing.
        self._hiredis_packs = (self._encoder.encoding.replace("_", "-").lower() == "utf-8"
                               and self._encoder.encoding_errors == "strict")
        self._idle: list[Any] = []  # single server: our idle connections
        self._made: list[Any] = []  # ... and every one we made, to close them
        #: Reads waiting for their batch's task, by server ("" for a single server).
        self._pending: dict[str, list[tuple[tuple[Any, ...], asyncio.Future[Any]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)  # everything else: the full client, as before

    async def get(self, key: str) -> Any:
        return await self._read(key, ("GET", key))

    async def hgetall(self, key: str) -> Any:
        return await self._read(key, ("HGETALL", key))

    async def hmget(self, key: str, fields: list[str]) -> Any:
        return await self._read(key, ("HMGET", key, *fields))

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        made, self._made, self._idle = self._made, [], []
        for conn in made:
            await conn.disconnect(nowait=True)
        await self.client.aclose()

    async def _read(self, key: str, args: tuple[Any, ...]) -> Any:
        node: Any = None
        if self._cluster:
            client: Any = self.client
            owners = client.nodes_manager.slots_cache.get(key_slot(self._encoder.encode(key)))
            if not owners or client._initialize:
                # No slot map until the client's first command initialises it.
                return await client.execute_command(*args)
            node = owners[0]  # the primary: the full client reads from primaries too
        name = node.name if node is not None else ""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        batch = self._pending.get(name)
        if batch is None:
            batch = self._pending[name] = []
            task = asyncio.create_task(self._flush(name, node))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        batch.append((args, future))
        result = await future
        if result is FALLBACK:
            return await self.client.execute_command(*args)
        return result

    def _acquire(self, node: Any) -> Any:
        if node is not None:
            try:
                return node.acquire_connection()
            except Exception:  # MaxConnectionsError: let the full client decide
                return None
        if self._idle:
            return self._idle.pop()
        if len(self._made) < self._size:
            conn = self.client.connection_pool.make_connection()
            self._made.append(conn)
            return conn
        return None

    def _release(self, node: Any, conn: Any) -> None:
        if node is not None:
            node.release(conn)
        elif conn in self._made:  # not closed by aclose meanwhile
            self._idle.append(conn)

    def _pack(self, conn: Any, commands: list[tuple[Any, ...]]) -> bytes | list[bytes]:
        """The batch in the Redis protocol, as the connection itself would pack it."""
        if self._hiredis_packs:
            return b"".join([hiredis.pack_command(args) for args in commands])
        return conn.pack_commands(commands)

    async def _flush(self, name: str, node: Any) -> None:
        """Send one batch as a pipeline and answer each read from its own reply."""
        batch = self._pending.pop(name)
        conn = self._acquire(node)
        if conn is None:
            for _, future in batch:
                _settle(future, FALLBACK)
            return
        callbacks = node.response_callbacks if node is not None else self._callbacks
        try:
            if conn.should_reconnect():
                await conn.disconnect()
            await conn.send_packed_command(self._pack(conn, [a for a, _ in batch]), False)
            # One deadline for the whole batch's replies, not a timer per reply
            # (``timeout=math.inf``: no per-read timer): the connection's own read
            # timeout, if it has one. When it passes, the connection is dropped and
            # the batch falls back.
            async with asyncio.timeout(conn.socket_timeout):
                for args, future in batch:
                    try:
                        response = await conn.read_response(timeout=math.inf)
                    except ResponseError:  # MOVED, ASK, WRONGTYPE ...: the reply was read
                        _settle(future, FALLBACK)
                        continue
                    callback = callbacks.get(args[0])
                    _settle(future, callback(response) if callback is not None else response)
        except BaseException as exc:  # a dead connection, a timeout, cancellation at shutdown
            await conn.disconnect(nowait=True)
            self._release(node, conn)  # it reconnects on its next use
            for _, future in batch:
                _settle(future, FALLBACK)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._release(node, conn)


def wrap(client: AsyncRedis, size: int = 64) -> FastRedis:
    """The app's Redis client: ``client`` with the lean read path in front."""
    return FastRedis(client, size)
