"""An upstream: the gateway's view of one instance and its pool of idle connections.

It satisfies ``balancers.base.Target`` (``id``, ``weight``, ``outstanding``)
so balancers see it directly, and it keeps idle keep-alive connections in a
LIFO list: the most recently used connection is the one least likely to have
been closed by the instance's own idle timeout. New connections are opened in
a small task (the only task on the request path, and only when no idle
connection is left); the result goes back to the exchange by a callback.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from stateline.gateway.metrics import UpstreamMetrics
from stateline.gateway.upstream_protocol import UpstreamConnection

if TYPE_CHECKING:
    from stateline.gateway.proxy import Exchange


class Upstream:
    __slots__ = ("address", "connect_timeout", "host", "id", "id_bytes", "idle", "max_idle",
                 "metrics", "outstanding", "port", "removed", "weight")

    def __init__(self, id: str, address: str, *, weight: int = 1, connect_timeout: float = 2.0,
                 max_idle: int = 128) -> None:
        host, _, port = address.rpartition(":")
        self.id = id
        self.id_bytes = id.encode()
        self.address = address
        self.host = host.strip("[]")
        self.port = int(port)
        self.weight = weight
        self.outstanding = 0
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self.idle: list[UpstreamConnection] = []
        self.removed = False
        self.metrics = UpstreamMetrics()

    def take_idle(self) -> UpstreamConnection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def release(self, conn: UpstreamConnection) -> None:
        """Back to the idle list after a complete exchange (or closed, when not wanted)."""
        conn.ex = None
        if self.removed or len(self.idle) >= self.max_idle or conn.closed:
            conn.close()
        else:
            self.idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        """An idle connection closed by the instance."""
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)

    def connect(self, ex: Exchange) -> None:
        asyncio.get_running_loop().create_task(self._connect(ex))

    async def _connect(self, ex: Exchange) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: UpstreamConnection(self), self.host, self.port),
                self.connect_timeout,
            )
        except (TimeoutError, OSError) as exc:
            ex.connect_failed(self, exc)
            ex.client.flush()
            return
        ex.connected(self, conn)
        ex.client.flush()

    def close_idle(self) -> None:
        while self.idle:
            self.idle.pop().close()

    def __repr__(self) -> str:
        return f"Upstream({self.id!r}, {self.address!r}, outstanding={self.outstanding})"
