"""The listener and the gateway's lifecycle in one process.

``Gateway`` holds the tables the data plane reads (routes, pools), the open
client connections, and the background work that keeps the tables current:
a sweep every 100 ms (timeouts, un-ejections), active health checks, and
registry watchers. ``serve`` runs one process: bind, serve, and on SIGTERM or
SIGINT stop accepting, answer requests already received or on their way in
(with ``Connection: close``), close idle keep-alive connections only between
requests, and exit when none is left (or after ``shutdown_grace``). Several
processes share one port with SO_REUSEPORT (see ``workers``): the gateway
keeps nothing that a sibling would need.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from ipaddress import ip_network
from typing import Any

from stateline.gateway import native
from stateline.gateway.admin import Admin
from stateline.gateway.client_protocol import ClientProtocol
from stateline.gateway.clock import coarse
from stateline.gateway.config import GatewayConfig
from stateline.gateway.headers import is_trusted
from stateline.gateway.membership import add_static, health_checks, watch_registry
from stateline.gateway.metrics import PoolMetrics, UpstreamMetrics
from stateline.gateway.pool import Pool
from stateline.gateway.routes import Route, Router
from stateline.gateway.tunnel import Tunnel

log = logging.getLogger("stateline.gateway")

SWEEP_INTERVAL = 0.1


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.proto = config.proto.encode()
        self.trusted_proxies = [ip_network(c) for c in config.trusted_proxies]
        self.pools: dict[str, Pool] = {name: Pool(pc) for name, pc in config.pools.items()}
        self.redis: Any = None
        routes = []
        for rc in config.routes:
            limiter = None
            if rc.rate_limit is not None:
                from stateline.gateway.ratelimit import RateLimiter

                limiter = RateLimiter(self._redis(), rc.rate_limit.rate_per_s, rc.rate_limit.burst)
            routes.append(Route(rc.prefix.encode(), self.pools[rc.pool], limiter,
                                rc.rate_limit.key if rc.rate_limit else "ip"))
        self.router = Router(routes)
        self.connections: set[ClientProtocol] = set()
        self.tunnels: set[Tunnel] = set()  # upgraded connections (they left `connections`)
        self.admin = Admin(self, config.admin_token)
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        for pool in self.pools.values():
            add_static(pool)

    def _redis(self) -> Any:
        if self.redis is None:
            from stateline.stores.redis import connect

            if not self.config.redis_url:
                raise ValueError("a Redis URL is needed for the registry and rate limits")
            self.redis = connect(self.config.redis_url)
        return self.redis

    def trusts(self, ip: str) -> bool:
        """Whether a peer is a trusted proxy (checked once per client connection)."""
        return is_trusted(ip, self.trusted_proxies)

    def protocol(self) -> ClientProtocol:
        return ClientProtocol(self)

    def metric_sources(self) -> Iterator[tuple[str, PoolMetrics, list[tuple[str, UpstreamMetrics,
                                                                            int]]]]:
        for name, p in self.pools.items():
            ej = p.health.ejections_total
            yield name, p.metrics, [(u.id, u.metrics, ej.get(u.id, 0))
                                    for u in p.members.values()]

    # -- background work ---------------------------------------------------------

    def start_background(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._sweep()))
        for pool in self.pools.values():
            if pool.config.registry:
                self._tasks.append(loop.create_task(watch_registry(
                    pool, self._redis(), pool.config.registry, self.config.registry_interval)))
            if pool.config.health_checks:
                self._tasks.append(loop.create_task(health_checks(pool)))

    async def _sweep(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = coarse.tick()
            for pool in self.pools.values():
                pool.tick(now)
            n += 1
            if n % 3 == 0:
                for conn in list(self.connections):
                    conn.check_timeouts(now)
                for tunnel in list(self.tunnels):
                    tunnel.check_timeouts(now)

    async def stop(self, server: asyncio.AbstractServer | None) -> None:
        """Stop accepting, close idle connections, wait for in-flight requests, then close.

        Tunnels (upgraded connections) have no "between requests": they run on
        through the grace and are closed when it ends, unless they end first.
        """
        self.stopping = True
        if server is not None:
            server.close()
        deadline = time.monotonic() + self.config.shutdown_grace
        while time.monotonic() < deadline:
            for conn in list(self.connections):
                if conn.current is None and not conn.queue and not conn.in_head \
                        and not input_pending(conn.transport):
                    conn.close()
            if not self.connections and not self.tunnels:
                break
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.close()
        for tunnel in list(self.tunnels):
            tunnel.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pool in self.pools.values():
            for up in pool.members.values():
                up.close_idle()
        if self.redis is not None:
            await self.redis.aclose()


def input_pending(transport: asyncio.BaseTransport | None) -> bool:
    """Whether a client sent bytes the loop has not read yet: a request on its way in.

    Closing an idle keep-alive connection during shutdown is only safe between
    requests; a peek tells "idle" from "its next request is in the socket".
    """
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    try:
        with socket.socket(fileno=os.dup(sock.fileno())) as s:
            return bool(s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:
        return False


def bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening socket; with ``reuse_port`` several processes can bind the same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


async def serve(config: GatewayConfig, *, reuse_port: bool = False,
                ready: asyncio.Event | None = None) -> None:
    """Run one gateway process until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    gw = Gateway(config)
    sock = bind(*config.listen, reuse_port=reuse_port)
    server = await loop.create_server(gw.protocol, sock=sock, backlog=4096)
    gw.start_background()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    host, port = sock.getsockname()[:2]  # the real port, when 0 asked for any free one
    log.info("gateway listening on %s:%d (pools: %s)", host, port, ", ".join(gw.pools))
    log.info("gateway data plane: %(mode)s (%(reason)s)", native.describe())
    if ready is not None:
        ready.set()
    await stop.wait()
    log.info("gateway stopping: finishing in-flight requests")
    await gw.stop(server)


def run(config: GatewayConfig, *, reuse_port: bool = False) -> None:
    """Blocking entry for one process, on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(serve(config, reuse_port=reuse_port))
        return
    uvloop.run(serve(config, reuse_port=reuse_port))
