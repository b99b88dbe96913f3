"""Who is in a pool: static addresses, or the registry in Redis; plus active health checks.

Membership only changes the pool's tables (members, draining flags); the data
plane reads them on the next request. A member that leaves the registry is
removed from the pool at once — no new requests — while requests already on
its connections finish there. A member marked ``draining`` stays known but
gets no new requests, which is how an instance shuts down without errors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from stateline.gateway.pool import Pool
from stateline.gateway.proxy import LOCAL_ERRNOS

log = logging.getLogger("stateline.gateway")


def add_static(pool: Pool) -> None:
    """Static backends: the instance id is ``host:port``."""
    for address in pool.config.backends:
        pool.add(address, address)


def apply_members(pool: Pool, members: list[Any]) -> None:
    """Make the pool match one registry snapshot (list of registry.Member)."""
    seen = set()
    for m in members:
        seen.add(m.id)
        pool.add(m.id, m.address)
        pool.set_draining(m.id, m.state == "draining")
    for id in [i for i in pool.members if i not in seen]:
        pool.remove(id)


async def watch_registry(pool: Pool, redis: Any, registry_pool: str, interval_s: float) -> None:
    """Follow the registry for ``pool`` until cancelled."""
    from stateline.registry import RegistryWatcher

    watcher = RegistryWatcher(redis, registry_pool, interval_s=interval_s)
    async for members in watcher.watch():
        before = set(pool.members)
        apply_members(pool, members)
        after = set(pool.members)
        if before != after:
            log.info("pool %s: members %s", pool.name, sorted(after))


async def probe(host: str, port: int, path: str, timeout: float) -> bool | None:
    """One active check: ``GET path`` on a fresh connection; healthy means a 2xx status.

    None when the gateway could not even try (out of descriptors, say): that
    says nothing about the instance, so it is not recorded.
    """
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET %s HTTP/1.1\r\nhost: %s:%d\r\nuser-agent: stateline-gateway"
                         b"\r\nconnection: close\r\n\r\n" % (path.encode(), host.encode(), port))
            line = await reader.readline()
        parts = line.split(b" ", 2)
        return len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1][:1] == b"2"
    except (TimeoutError, ValueError):
        return False
    except OSError as exc:
        return None if exc.errno in LOCAL_ERRNOS else False
    finally:
        if writer is not None:
            writer.close()


async def health_checks(pool: Pool) -> None:
    """Probe every member each ``outlier.interval`` seconds until cancelled."""
    policy = pool.config.outlier
    while True:
        members = list(pool.members.values())
        if members:
            results = await asyncio.gather(*(
                probe(u.host, u.port, pool.config.health_path, policy.timeout) for u in members
            ))
            now = time.monotonic()
            for up, ok in zip(members, results, strict=True):
                if ok is not None and pool.members.get(up.id) is up:
                    t = pool.health.record_check(up.id, ok, now)
                    if t is not None:
                        pool.note(t)
                        log.info("pool %s: %s %s → %s (%s)", pool.name, t.id, t.old_state,
                                 t.new_state, t.reason)
        await asyncio.sleep(policy.interval)
