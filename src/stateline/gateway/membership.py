"""Who is in a pool: static addresses, or the registry in Redis; plus active health checks.

Membership only changes the pool's tables (members, draining flags); the data
plane reads them on the next request. A member that leaves the registry is
removed from the pool at once — no new requests — while requests already on
its connections finish there. A member marked ``draining`` stays known but
gets no new requests, which is how an instance shuts down without errors.

An unreachable registry says nothing about the instances. While polls fail,
the pool keeps its members; and when the registry answers again, its first
snapshots may lack instances whose heartbeats expired during the outage
(they could not reach it either). So for ``outage_grace`` seconds after an
outage, members missing from a snapshot are kept (active health checks
decide whether they get traffic), and only then removed if they have not
re-registered (:class:`RegistryMembership`).
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


class RegistryMembership:
    """Registry snapshots applied to one pool; an outage never empties it (see the module doc).

    Pure bookkeeping with time passed in, so tests drive it without a clock.
    """

    def __init__(self, pool: Pool, outage_grace: float, stale_after: float = 1.0) -> None:
        self.pool = pool
        self.outage_grace = outage_grace
        #: No snapshot for this long counts as an outage too (a poll that hung, not failed).
        self.stale_after = stale_after
        self.failing = False  # the last poll failed
        self.last_ok: float | None = None  # when the last snapshot was applied
        self.keep_until: float | None = None  # after an outage: missing members kept until then

    def failed(self, now: float) -> None:
        """A poll failed: the pool stays as it is."""
        self.failing = True

    def apply(self, members: list[Any], now: float) -> None:
        """One successful snapshot (list of registry.Member)."""
        hung = self.last_ok is not None and now - self.last_ok > self.stale_after
        if self.failing or hung:
            self.failing = False
            self.keep_until = now + self.outage_grace
        self.last_ok = now
        if self.keep_until is not None and now >= self.keep_until:
            self.keep_until = None
        if self.keep_until is None:
            apply_members(self.pool, members)
            return
        for m in members:  # within the grace: add and update, remove nothing
            self.pool.add(m.id, m.address)
            self.pool.set_draining(m.id, m.state == "draining")


async def watch_registry(pool: Pool, redis: Any, registry_pool: str, interval_s: float,
                         outage_grace: float = 10.0) -> None:
    """Follow the registry for ``pool`` until cancelled.

    Polls ``RegistryWatcher.snapshot`` itself (rather than ``watch``) because it
    must know when a poll failed; failures back off and are logged as
    ``RegistryWatcher.watch`` does (:mod:`stateline.backoff`: with the
    registry's address, once per 30 s of outage, and the recovery once).
    """
    from stateline.backoff import Backoff
    from stateline.registry import RegistryWatcher
    from stateline.stores.redis import address_of

    watcher = RegistryWatcher(redis, registry_pool, interval_s=interval_s)
    membership = RegistryMembership(pool, outage_grace, stale_after=max(1.0, 4 * interval_s))
    backoff = Backoff(interval_s)
    while True:
        delay = interval_s
        before = set(pool.members)
        try:
            members = await watcher.snapshot()
        except Exception as exc:  # keep watching whatever one poll ran into
            membership.failed(time.monotonic())
            delay, loud = backoff.failed(time.monotonic())
            if loud:
                log.warning("registry poll for pool %r at %s failed (%d in a row; retrying with "
                            "backoff, now every %.1fs; keeping the pool's %d members): %r",
                            registry_pool, address_of(redis), backoff.failures, delay,
                            len(before), exc)
        else:
            if ended := backoff.succeeded():
                log.warning("registry for pool %r at %s answers again after %d failed polls",
                            registry_pool, address_of(redis), ended)
            membership.apply(members, time.monotonic())
        after = set(pool.members)
        if before != after:
            log.info("pool %s: members %s", pool.name, sorted(after))
        await asyncio.sleep(delay)


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
