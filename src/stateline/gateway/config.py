"""The gateway's configuration: a TOML file or the command-line shorthand.

Two ways in, one shape out. ``--backend URL ...`` and ``--registry URL --pool
NAME`` build a one-pool, one-route configuration; ``--config FILE`` reads
routes and pools from TOML (see docs/gateway.md for the reference). Parsing
is strict: an unknown key or a bad value is an error naming the key, found at
start-up rather than under traffic.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from ipaddress import ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stateline.gateway.balancers import POLICIES
from stateline.gateway.balancers.keys import KeySource
from stateline.gateway.framing import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_TARGET_BYTES,
)
from stateline.gateway.health import OutlierPolicy

ADMIN_PREFIX = "/_stateline/"
DEFAULT_HEALTH_PATH = "/_stateline/health"


class ConfigError(ValueError):
    """A configuration that cannot be served; the message names the offending key."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``connect`` and ``response`` are per pool; the others per listener."""

    connect: float = 2.0
    response: float = 30.0  # upstream silent this long (before or during a response) → 504
    header_read: float = 10.0  # a client's request head must arrive within this
    idle: float = 60.0  # an idle keep-alive client connection is closed after this


#: An RFC 9110 field name (a token).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class RateLimit:
    rate_per_s: float
    burst: int
    key: str = "ip"  # "ip" or "header:NAME"


@dataclass(frozen=True)
class PoolConfig:
    name: str
    backends: tuple[str, ...] = ()  # "host:port"
    registry: str | None = None  # registry pool name: members come from Redis
    policy: str = "round_robin"
    key: str | None = None  # KeySource spec for key-routed policies
    weights: dict[str, int] = field(default_factory=dict)  # backend "host:port" → weight
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    retries: int = 2  # extra attempts after the first
    retry_budget_percent: float = 20.0
    min_retry_concurrency: int = 3
    health_path: str = DEFAULT_HEALTH_PATH
    health_checks: bool = True
    connect_timeout: float = 2.0
    response_timeout: float = 30.0
    # Per attempt (Envoy's per_try_timeout): an instance silent this long after the body
    # was sent loses a request that may be repeated to another instance; 0 = off (a try
    # then waits the whole response_timeout). Other requests still wait response_timeout.
    try_timeout: float = 0.0
    max_idle_per_upstream: int = 128
    outlier: OutlierPolicy = field(default_factory=OutlierPolicy)


@dataclass(frozen=True)
class RouteConfig:
    prefix: str
    pool: str
    rate_limit: RateLimit | None = None


@dataclass(frozen=True)
class GatewayConfig:
    listen: tuple[str, int] = ("127.0.0.1", 8080)
    workers: int = 1
    routes: tuple[RouteConfig, ...] = ()
    pools: dict[str, PoolConfig] = field(default_factory=dict)
    redis_url: str | None = None  # the registry and rate limits
    registry_interval: float = 0.25
    # After the registry was unreachable, members missing from its snapshots are kept this
    # long (health checks decide meanwhile): their heartbeats may have expired in the outage.
    registry_outage_grace: float = 10.0
    admin_token: str | None = None
    header_read_timeout: float = 10.0
    # A request body that brings no byte for this long → 408 request_body_timeout. The
    # pool's response_timeout only starts once the body has been sent.
    request_body_timeout: float = 30.0
    idle_timeout: float = 60.0
    tunnel_idle_timeout: float = 3600.0  # an upgraded connection (WebSocket) silent this long
    shutdown_grace: float = 10.0
    max_header_bytes: int = MAX_HEADER_BYTES
    max_target_bytes: int = MAX_TARGET_BYTES
    max_headers: int = MAX_HEADERS  # request header fields; more → 431
    proto: str = "http"  # what X-Forwarded-Proto says
    # Peers (CIDRs) whose X-Forwarded-Proto is kept, e.g. a TLS terminator in front.
    trusted_proxies: tuple[str, ...] = ()
    # Open client connections (tunnels included) past which new ones are refused at once;
    # 0: derived from RLIMIT_NOFILE (see server.default_max_client_connections).
    max_client_connections: int = 0
    # The request header that makes a non-idempotent method retryable (the app dedupes by it).
    idempotency_header: str = "Idempotency-Key"

    def with_(self, **changes: Any) -> GatewayConfig:
        return replace(self, **changes)


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"listen address {value!r}: want HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def parse_trusted_proxies(values: list[Any]) -> tuple[str, ...]:
    """CIDRs (or single addresses) of proxies whose X-Forwarded-Proto is believed."""
    out = []
    for v in values:
        try:
            out.append(str(ip_network(str(v), strict=False)))
        except ValueError:
            raise ConfigError(f"gateway.trusted_proxies: {v!r} is not an address or CIDR") from None
    return tuple(out)


def parse_backend(url: str) -> str:
    """``http://host:port`` (or bare ``host:port``) → ``host:port``, the instance id."""
    if "//" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ConfigError(f"backend {url!r}: only http:// upstreams are supported")
    if not parts.hostname or parts.port is None:
        raise ConfigError(f"backend {url!r}: want http://HOST:PORT")
    if parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"backend {url!r}: a backend is an address, not a path")
    return f"{parts.hostname}:{parts.port}"


def from_flags(
    *,
    listen: str,
    backends: list[str],
    registry_url: str | None,
    pool: str,
    workers: int = 1,
    admin_token: str | None = None,
    max_client_connections: int = 0,
) -> GatewayConfig:
    """The one-pool configuration of ``--backend`` / ``--registry``: every path → that pool."""
    if not backends and not registry_url:
        raise ConfigError("give --backend URL (one or more), --registry REDIS_URL or --config")
    pc = PoolConfig(
        name=pool,
        backends=tuple(parse_backend(b) for b in backends),
        registry=pool if registry_url else None,
    )
    return GatewayConfig(
        listen=parse_listen(listen),
        workers=workers,
        routes=(RouteConfig("/", pool),),
        pools={pool: pc},
        redis_url=registry_url,
        admin_token=admin_token,
        max_client_connections=max_client_connections,
    )


def _take(table: dict[str, Any], where: str, spec: dict[str, type | tuple[type, ...]]) -> dict:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in spec:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(spec)})")
        want = spec[key]
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (isinstance(value, bool) and want in (int, float)):
            raise ConfigError(f"{where}.{key}: bad value {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"{where}.{key}: must not be negative")
        out[key] = value
    return out


_OUTLIER_SPEC = {
    f.name: (int if f.type in ("int", int) else float) for f in fields(OutlierPolicy)
}
_POOL_SPEC: dict[str, Any] = {
    "backends": list, "registry": str, "policy": str, "key": str, "weights": dict,
    "max_body_bytes": int, "retries": int, "retry_budget_percent": float,
    "min_retry_concurrency": int, "health_path": str, "health_checks": bool,
    "connect_timeout": float, "response_timeout": float, "try_timeout": float,
    "max_idle_per_upstream": int,
    "outlier": dict,
}


def _pool(name: str, table: dict[str, Any]) -> PoolConfig:
    where = f"pools.{name}"
    t = _take(table, where, _POOL_SPEC)
    backends = tuple(parse_backend(str(b)) for b in t.pop("backends", []))
    if not backends and "registry" not in t:
        raise ConfigError(f"{where}: give backends = [...] or registry = \"POOL\"")
    policy = t.get("policy", "round_robin")
    if policy not in POLICIES:
        raise ConfigError(f"{where}.policy: {policy!r} is not one of {', '.join(POLICIES)}")
    if "key" in t:
        try:
            KeySource.parse(t["key"])
        except ValueError as exc:
            raise ConfigError(f"{where}.key: {exc}") from None
    try:
        outlier = OutlierPolicy(**_take(t.pop("outlier", {}), f"{where}.outlier", _OUTLIER_SPEC))
    except ValueError as exc:
        raise ConfigError(f"{where}.outlier: {exc}") from None
    weights = {parse_backend(k): v for k, v in t.pop("weights", {}).items()}
    if any(not isinstance(v, int) or v < 1 for v in weights.values()):
        raise ConfigError(f"{where}.weights: weights are integers >= 1")
    try_timeout = t.get("try_timeout", 0.0)
    response_timeout = t.get("response_timeout", PoolConfig.response_timeout)
    if try_timeout < 0 or (try_timeout and try_timeout >= response_timeout):
        raise ConfigError(f"{where}.try_timeout: 0 (off) or more than 0 and less than "
                          f"response_timeout ({response_timeout})")
    health_path = t.get("health_path", DEFAULT_HEALTH_PATH)
    if not health_path.startswith("/"):
        raise ConfigError(f"{where}.health_path: must start with /")
    return PoolConfig(name=name, backends=backends, weights=weights, outlier=outlier, **t)


def _rate_limit(where: str, table: dict[str, Any]) -> RateLimit:
    t = _take(table, where, {"rate_per_s": float, "burst": int, "key": str})
    if "rate_per_s" not in t or "burst" not in t or t["rate_per_s"] <= 0 or t["burst"] < 1:
        raise ConfigError(f"{where}: needs rate_per_s > 0 and burst >= 1")
    key = t.get("key", "ip")
    if key != "ip" and not key.startswith("header:"):
        raise ConfigError(f"{where}.key: 'ip' or 'header:NAME'")
    return RateLimit(t["rate_per_s"], t["burst"], key)


def load(text: str, *, source: str = "config") -> GatewayConfig:
    """Parse TOML text into a GatewayConfig (ConfigError on anything odd)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    top = _take(doc, source, {"gateway": dict, "pools": dict, "routes": list})
    g = _take(top.get("gateway", {}), "gateway", {
        "listen": str, "workers": int, "redis_url": str, "registry_interval": float,
        "registry_outage_grace": float,
        "header_read_timeout": float, "request_body_timeout": float, "idle_timeout": float,
        "tunnel_idle_timeout": float,
        "shutdown_grace": float,
        "max_header_bytes": int, "max_target_bytes": int, "max_headers": int, "proto": str,
        "trusted_proxies": list, "max_client_connections": int, "idempotency_header": str,
    })
    if "listen" in g:
        g["listen"] = parse_listen(g["listen"])
    if "trusted_proxies" in g:
        g["trusted_proxies"] = parse_trusted_proxies(g["trusted_proxies"])
    if "idempotency_header" in g and not _TOKEN.fullmatch(g["idempotency_header"]):
        raise ConfigError("gateway.idempotency_header: not a header field name")
    if g.get("max_headers", 1) < 1:
        raise ConfigError("gateway.max_headers: must be at least 1")
    pools = {name: _pool(name, t) for name, t in top.get("pools", {}).items()}
    if not pools:
        raise ConfigError(f"{source}: no [pools.NAME] table")
    routes: list[RouteConfig] = []
    for i, r in enumerate(top.get("routes", [])):
        where = f"routes[{i}]"
        if not isinstance(r, dict):
            raise ConfigError(f"{where}: want a table")
        rt = _take(r, where, {"prefix": str, "pool": str, "rate_limit": dict})
        if "prefix" not in rt or not rt["prefix"].startswith("/"):
            raise ConfigError(f"{where}.prefix: a path prefix starting with /")
        if rt["prefix"].startswith(ADMIN_PREFIX):
            raise ConfigError(f"{where}.prefix: {ADMIN_PREFIX} is the gateway's own")
        if rt.get("pool") not in pools:
            raise ConfigError(f"{where}.pool: {rt.get('pool')!r} is not a configured pool")
        limit = _rate_limit(f"{where}.rate_limit", rt["rate_limit"]) if "rate_limit" in rt else None
        routes.append(RouteConfig(rt["prefix"], rt["pool"], limit))
    if not routes:
        if len(pools) != 1:
            raise ConfigError(f"{source}: several pools need [[routes]]")
        routes.append(RouteConfig("/", next(iter(pools))))
    needs_redis = any(p.registry for p in pools.values()) or any(r.rate_limit for r in routes)
    if needs_redis and "redis_url" not in g:
        raise ConfigError("gateway.redis_url is needed for registry pools and rate limits")
    return GatewayConfig(routes=tuple(routes), pools=pools, **g)


def load_file(path: str | Path) -> GatewayConfig:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc}") from None
    return load(text, source=str(p))
