"""Connecting to Redis: one URL names either a single server or a cluster.

Accepted URL forms (``STATELINE_REDIS_URL``):

- ``redis://[[user]:password@]host:port[/db]``, ``rediss://...`` (TLS),
  ``unix:///path/to/redis.sock`` -- a single Redis server;
- ``redis+cluster://host:port[,host:port...]`` (or ``rediss+cluster://``) -- a
  Redis Cluster, given one or more seed nodes; the client learns the slot map
  from them and routes every key to the master that owns its slot.

Credentials ride in the URL (``redis://user:pass@...``,
``redis+cluster://:pass@h1:p1,h2:p2``). A process whose URL has none takes
them from ``STATELINE_REDIS_PASSWORD`` (and ``STATELINE_REDIS_USERNAME``) in
its environment: that is how ``stateline up`` hands the gateway its Redis
password without putting it on a command line, which ``ps`` shows to every
local user (the environment it shows only to the process's owner).

Stores hold no policy: this module only builds clients.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

PASSWORD_ENV = "STATELINE_REDIS_PASSWORD"
USERNAME_ENV = "STATELINE_REDIS_USERNAME"

AsyncRedis = aioredis.Redis | AsyncRedisCluster
SyncRedis = redis.Redis | RedisCluster


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def cluster_url(nodes: list[tuple[str, int]], password: str | None = None) -> str:
    """The ``redis+cluster://`` URL for a list of seed nodes (with a password, if given)."""
    auth = f":{password}@" if password else ""
    return "redis+cluster://" + auth + ",".join(f"{host}:{port}" for host, port in nodes)


def credentials(url: str) -> tuple[str | None, str | None]:
    """(username, password) written in ``url``, ``None`` where absent."""
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return None, None
    auth = netloc.rsplit("@", 1)[0]
    user, sep, password = auth.partition(":")
    return (unquote(user) or None), (unquote(password) if sep and password else None)


def without_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` removed: safe to show, log or put in argv."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def redacted(url: str) -> str:
    """``url`` for a human: a password, if any, shown as ``***``."""
    user, password = credentials(url)
    if password is None:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user or ''}:***@{host}"))


def address_of(client: object) -> str:
    """Where ``client`` connects (``host:port``, the seed nodes, a socket path), for log lines."""
    nodes = getattr(getattr(client, "nodes_manager", None), "startup_nodes", None)
    if nodes:
        return ",".join(f"{n.host}:{n.port}" for n in nodes.values())
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if kwargs.get("path"):
        return str(kwargs["path"])
    if kwargs.get("host"):
        return f"{kwargs['host']}:{kwargs.get('port', 6379)}"
    return "?"


def _env_credentials(url: str, kwargs: dict[str, object]) -> dict[str, object]:
    """``kwargs`` plus the environment's username/password when neither URL nor caller gave one."""
    if "password" in kwargs or credentials(url)[1] is not None:
        return kwargs
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        return kwargs
    out = {**kwargs, "password": password}
    username = os.environ.get(USERNAME_ENV)
    if username and "username" not in kwargs:
        out["username"] = username
    return out


def _cluster_parts(url: str) -> tuple[list[tuple[str, int]], dict[str, object]]:
    parts = urlsplit(url)
    netloc = parts.netloc
    options: dict[str, object] = {}
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        user, _, password = auth.partition(":")
        options["username"] = unquote(user) or None
        options["password"] = unquote(password) or None
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
    kwargs = _env_credentials(url, kwargs)
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
    kwargs = _env_credentials(url, kwargs)
    if is_cluster_url(url):
        return connect(url, max_connections=max_connections, **kwargs)
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait_s, **kwargs)
    return aioredis.Redis.from_pool(pool)


def connect_sync(url: str, **kwargs: object) -> SyncRedis:
    """A blocking client for ``url``: for the CLI, the supervisor and the lab, never a handler."""
    kwargs = _env_credentials(url, kwargs)
    if is_cluster_url(url):
        nodes, options = _cluster_parts(url)
        startup = [ClusterNode(h, p) for h, p in nodes]
        return RedisCluster(startup_nodes=startup, **options, **kwargs)
    return redis.Redis.from_url(url, **kwargs)
