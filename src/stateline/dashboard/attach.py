"""Wiring the dashboard into a running supervisor (``stateline up``).

:class:`SupervisorSource` is what :class:`~stateline.dashboard.snapshot.Snapshots`
reads: the supervisor's own status answer and one authenticated Redis client
per embedded node (kept, so a snapshot a second does not reconnect six times).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from stateline.dashboard.server import DashboardServer
from stateline.dashboard.snapshot import Snapshots
from stateline.local import procs
from stateline.local.control import Request

if TYPE_CHECKING:
    from stateline.local.supervisor import Supervisor


class SupervisorSource:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.gateway_port = supervisor.settings.port
        self.data_dir: Path = supervisor.data_dir
        self._clients: dict[int, redis.Redis] = {}

    async def status(self) -> dict[str, Any]:
        return await self.supervisor._handle(Request("status"))

    def redis_clients(self) -> dict[str, redis.Redis]:
        cluster = self.supervisor.cluster
        if cluster is None or cluster.topology is None:
            return {}
        out: dict[str, redis.Redis] = {}
        for node_id, port in zip(cluster.topology.node_ids(), cluster.ports, strict=True):
            client = self._clients.get(port)
            if client is None:
                client = redis.Redis(host="127.0.0.1", port=port, password=cluster.password,
                                     socket_timeout=0.5, socket_connect_timeout=0.5)
                self._clients[port] = client
            out[node_id] = client
        return out


def ui_port_problem(port: int) -> str | None:
    """Why the dashboard cannot listen on ``port``, or None."""
    if not 1 <= port <= 65535:
        return f"the dashboard port must be 1-65535 (got {port})"
    return procs.bind_problem(port)


async def start(supervisor: Supervisor, port: int) -> DashboardServer:
    """Listen on ``127.0.0.1:port``; raises OSError when the port is taken."""
    server = DashboardServer(port, Snapshots(SupervisorSource(supervisor)), supervisor._handle,
                             f"http://127.0.0.1:{supervisor.settings.port}")
    await server.start()
    return server
