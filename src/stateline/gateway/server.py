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
import resource
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
#: Descriptors kept out of the client cap for listeners, the registry and limiter's Redis,
#: health checks, logs and the interpreter itself.
FD_RESERVE = 64
#: Past this share of the cap the gateway is "under pressure": idle keep-alive client
#: connections (and connections that never sent a byte) close after PRESSURE_IDLE_S.
PRESSURE_SHARE = 0.75
PRESSURE_IDLE_S = 1.0


def default_max_client_connections(nofile: int) -> int:
    """The client cap for an open-files limit: half of what the reserve leaves.

    Every client connection may need an upstream connection at the same
    moment (and each idle upstream connection was once one client's), so
    clients get half; the gateway then never runs out of descriptors for
    upstreams because of its clients.
    """
    return max(1, (nofile - FD_RESERVE) // 2)


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (as Go and nginx setups do); the result.

    The soft limit is often 1024 for compatibility with select(); the event
    loop uses epoll, so the hard limit is the real one.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (OSError, ValueError):
            pass
    return soft


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
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if nofile == resource.RLIM_INFINITY:
            nofile = 1 << 20
        #: Client connections (tunnels included) past which new ones are refused at once.
        self.max_connections = (config.max_client_connections
                                or default_max_client_connections(nofile))
        self.pressure_at = max(1, int(self.max_connections * PRESSURE_SHARE))
        self.idle_timeout = config.idle_timeout  # shorter under pressure (see _sweep)
        self.refused_connections = 0
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
                    pool, self._redis(), pool.config.registry, self.config.registry_interval,
                    self.config.registry_outage_grace)))
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
                # Under pressure idle connections go sooner, so that the cap keeps room
                # for clients that have something to ask.
                pressure = len(self.connections) + len(self.tunnels) >= self.pressure_at
                self.idle_timeout = (min(self.config.idle_timeout, PRESSURE_IDLE_S) if pressure
                                     else self.config.idle_timeout)
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
    nofile = raise_nofile_limit()
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
    log.info("gateway client connections: at most %d (open files limit %d)",
             gw.max_connections, nofile)
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
