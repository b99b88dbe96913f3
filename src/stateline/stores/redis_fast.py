"""A lean first attempt for Redis reads, on redis-py's own connections; the full client behind it.

Why: profiles of ``GET /api/counter`` under load (py-spy, ``docs/performance.md``)
showed redis-py 8's asyncio ``execute_command`` spending most of its time
outside the round trip: the blocking pool's condition and timeout, the
connection health read on every checkout, the retry wrapper, observability
hooks, event dispatch and the ``deprecated_args`` wrapper. For a read of one
key none of it is needed while the connection is fine.

What: :class:`FastRedis` wraps the client from :mod:`stateline.stores.redis`
and answers ``get``/``hgetall``/``hmget`` through a short path of redis-py's
own parts: the same connection class, packer, hiredis parser and response
callbacks. For a cluster it finds the key's slot owner in the client's slot
map (``nodes_manager.slots_cache``) and uses that node's connections, the
same ones the cluster client uses; for a single server it keeps up to
``size`` connections of its own, made by the client's pool.

Safety: the short path is only ever a first attempt. Anything but a plain
reply -- no free connection, an empty slot map, ``MOVED``/``ASK``,
``TRYAGAIN``, ``CLUSTERDOWN``, a connection error or timeout, any error
reply -- sends the command again through the wrapped client's full
``execute_command``, with its retries, redirections, slot map refresh and
failover handling, exactly as before. Only reads take the short path (a
repeated read changes nothing), so the retry adds no risk; every other
method and attribute is the wrapped client's, unchanged. A cancelled read
drops its connection (its reply may still be in flight) and re-raises.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from stateline.stores.redis import AsyncRedis


class FastRedis:
    """``client`` with a lean first attempt for single-key reads (see the module docstring)."""

    def __init__(self, client: AsyncRedis, size: int = 64) -> None:
        self.client = client
        self._cluster = isinstance(client, RedisCluster)
        self._callbacks = client.response_callbacks
        self._encoder = (client.encoder if self._cluster
                         else client.connection_pool.get_encoder())
        self._size = size
        self._idle: list[Any] = []  # single server: our idle connections
        self._made: list[Any] = []  # ... and every one we made, to close them

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)  # everything else: the full client, as before

    async def get(self, key: str) -> Any:
        return await self._read(key, "GET", key)

    async def hgetall(self, key: str) -> Any:
        return await self._read(key, "HGETALL", key)

    async def hmget(self, key: str, fields: list[str]) -> Any:
        return await self._read(key, "HMGET", key, *fields)

    async def aclose(self) -> None:
        idle, self._idle, made, self._made = self._idle, [], self._made, []
        del idle
        for conn in made:
            await conn.disconnect(nowait=True)
        await self.client.aclose()

    async def _read(self, key: str, *args: Any) -> Any:
        if self._cluster:
            return await self._cluster_read(key, args)
        idle = self._idle
        if idle:
            conn = idle.pop()
        elif len(self._made) < self._size:
            conn = self.client.connection_pool.make_connection()
            self._made.append(conn)
        else:
            return await self.client.execute_command(*args)
        try:
            await conn.send_packed_command(conn.pack_command(*args), False)
            response = await conn.read_response()
        except asyncio.CancelledError:
            await conn.disconnect(nowait=True)
            idle.append(conn)  # reconnects on its next use
            raise
        except Exception:
            await conn.disconnect(nowait=True)
            idle.append(conn)
            return await self.client.execute_command(*args)
        idle.append(conn)
        callback = self._callbacks.get(args[0])
        return callback(response) if callback is not None else response

    async def _cluster_read(self, key: str, args: tuple[Any, ...]) -> Any:
        client: Any = self.client
        owners = client.nodes_manager.slots_cache.get(key_slot(self._encoder.encode(key)))
        if not owners or client._initialize:
            # No slot map until the client's first command initialises it.
            return await client.execute_command(*args)
        node = owners[0]  # the primary: the full client reads from primaries too
        try:
            conn = node.acquire_connection()
        except Exception:  # MaxConnectionsError: let the full client decide
            return await client.execute_command(*args)
        try:
            if conn.should_reconnect():
                await conn.disconnect()
            await conn.send_packed_command(conn.pack_command(*args), False)
            response = await node.parse_response(conn, args[0])
        except asyncio.CancelledError:
            await conn.disconnect(nowait=True)
            node.release(conn)
            raise
        except Exception:  # MOVED, ASK, TRYAGAIN, CLUSTERDOWN, a dead node, ...
            await conn.disconnect(nowait=True)
            node.release(conn)
            return await client.execute_command(*args)
        node.release(conn)
        return response


def wrap(client: AsyncRedis, size: int = 64) -> FastRedis:
    """The app's Redis client: ``client`` with the lean read path in front."""
    return FastRedis(client, size)
