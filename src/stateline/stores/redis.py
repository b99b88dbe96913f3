"""Connecting to Redis: one URL names either a single server or a cluster.

Accepted URL forms (``STATELINE_REDIS_URL``):

- ``redis://[[user]:password@]host:port[/db]``, ``rediss://...`` (TLS),
  ``unix:///path/to/redis.sock`` -- a single Redis server;
- ``redis+cluster://host:port[,host:port...]`` (or ``rediss+cluster://``) -- a
  Redis Cluster, given one or more seed nodes; the client learns the slot map
  from them and routes every key to the master that owns its slot.

Stores hold no policy: this module only builds clients.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

AsyncRedis = aioredis.Redis | AsyncRedisCluster
SyncRedis = redis.Redis | RedisCluster


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def cluster_url(nodes: list[tuple[str, int]]) -> str:
    """The ``redis+cluster://`` URL for a list of seed nodes."""
    return "redis+cluster://" + ",".join(f"{host}:{port}" for host, port in nodes)


def _cluster_parts(url: str) -> tuple[list[tuple[str, int]], dict[str, object]]:
    parts = urlsplit(url)
    netloc = parts.netloc
    options: dict[str, object] = {}
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        user, _, password = auth.partition(":")
        options["username"] = user or None
        options["password"] = password or None
    nodes: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad cluster node {item!r} in Redis URL (want host:port)")
        nodes.append((host, int(port)))
    if CLUSTER_SCHEMES[parts.scheme] == "rediss":
        options["ssl"] = True
    return nodes, options


def connect(url: str, **kwargs: object) -> AsyncRedis:
    """An asyncio client for ``url`` (single server or cluster)."""
    if is_cluster_url(url):
        nodes, options = _cluster_parts(url)
        return AsyncRedisCluster(
            startup_nodes=[AsyncClusterNode(h, p) for h, p in nodes], **options, **kwargs
        )
    return aioredis.Redis.from_url(url, **kwargs)


def connect_bounded(
    url: str, max_connections: int = 256, wait_s: float = 5.0, **kwargs: object
) -> AsyncRedis:
    """An asyncio client for a server that answers many requests at once.

    redis-py's default pool raises ``MaxConnectionsError`` once 100 connections
    are in use; under load an app instance then fails requests it could have
    served a moment later. For a single server this client's pool *waits* up to
    ``wait_s`` for a free connection instead (then raises ``ConnectionError``).
    The cluster client has no waiting pool, so there ``max_connections`` is only
    raised, per node.
    """
    if is_cluster_url(url):
        return connect(url, max_connections=max_connections, **kwargs)
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait_s, **kwargs)
    return aioredis.Redis.from_pool(pool)


def connect_sync(url: str, **kwargs: object) -> SyncRedis:
    """A blocking client for ``url``: for the CLI, the supervisor and the lab, never a handler."""
    if is_cluster_url(url):
        nodes, options = _cluster_parts(url)
        startup = [ClusterNode(h, p) for h, p in nodes]
        return RedisCluster(startup_nodes=startup, **options, **kwargs)
    return redis.Redis.from_url(url, **kwargs)
