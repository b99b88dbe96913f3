"""One picture of the running system, as the dashboard and its SSE stream send it.

Everything comes from what the supervisor already knows (its status rows, the
same as ``stateline status --json``: every role, whatever runs), the gateway's
public metrics, and the embedded Redis Cluster's nodes asked over their
authenticated clients (``CLUSTER NODES``, ``DBSIZE``, ``INFO replication``).
Nothing is special-cased by role, so a new kind of process (a shard pool, say)
shows up as soon as the supervisor lists it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import redis

from stateline.dashboard import metrics

#: Recent events (failovers, state changes) kept for the page.
EVENTS_KEPT = 50


class Source(Protocol):
    """What the snapshot reads from the supervisor."""

    gateway_port: int
    data_dir: Path

    async def status(self) -> dict[str, Any]: ...

    def redis_clients(self) -> dict[str, redis.Redis]: ...


def redis_details(clients: dict[str, redis.Redis]) -> dict[str, dict[str, Any]]:
    """Per node: role, slot ranges, keys, replication offset and lag; blocking, run in a thread."""
    out: dict[str, dict[str, Any]] = {}
    for node_id, client in clients.items():
        try:
            text = client.execute_command("CLUSTER", "NODES")
            text = text.decode() if isinstance(text, bytes) else str(text)
            keys = int(client.dbsize())
            info = client.info("replication")
        except (redis.RedisError, OSError):
            out[node_id] = {"reachable": False}
            continue
        mine = next((ln.split() for ln in text.splitlines()
                     if len(ln.split()) >= 8 and "myself" in ln.split()[2]), [])
        slots = [s for s in mine[8:] if not s.startswith("[")]
        role = str(info.get("role", ""))
        offset = int(info.get("master_repl_offset", 0) or 0)
        detail: dict[str, Any] = {"reachable": True, "role": "master" if role == "master"
                                  else "replica", "slots": slots, "keys": keys,
                                  "offset": offset}
        if role == "master":
            detail["replicas"] = [
                {"addr": f"{v.get('ip')}:{v.get('port')}", "offset": int(v.get("offset", 0)),
                 "lag": offset - int(v.get("offset", 0))}
                for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        else:
            detail["master"] = f"{info.get('master_host')}:{info.get('master_port')}"
            detail["link"] = info.get("master_link_status")
        out[node_id] = detail
    return out


def tree_size(path: Path) -> int:
    """Bytes under ``path`` (0 if it is missing)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    return Path(rest.split("?", 1)[0]) if rest else None


class Snapshots:
    """Builds snapshots; remembers the previous scrape (for rates) and Redis roles (failovers)."""

    def __init__(self, source: Source, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.clock = clock
        self._scrape: tuple[float, metrics.Scrape] | None = None
        self._roles: dict[str, str] = {}
        self._states: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        self._sizes: tuple[float, dict[str, int | None]] | None = None

    def note(self, text: str) -> None:
        """Add an event line (the page lists the last ones)."""
        self.events.append({"at": time.strftime("%H:%M:%S"), "text": text})
        del self.events[:-EVENTS_KEPT]

    async def take(self) -> dict[str, Any]:
        status = await self.source.status()
        text = await metrics.fetch(self.source.gateway_port)
        now = self.clock()
        gateway: dict[str, Any] = {"reachable": text is not None}
        if text is not None:
            scrape = metrics.parse(text)
            before = self._scrape
            gateway.update(metrics.rates(before[1] if before else None, scrape,
                                         now - before[0] if before else 1.0))
            self._scrape = (now, scrape)
        redis_nodes = await asyncio.to_thread(redis_details, self.source.redis_clients())
        processes: list[dict[str, Any]] = list(status.get("processes") or [])
        for p in processes:
            ident, state = str(p.get("id")), str(p.get("state"))
            if self._states.get(ident, state) != state:
                self.note(f"{ident}: {self._states[ident]} → {state}")
            self._states[ident] = state
            detail = redis_nodes.get(ident)
            if detail and detail.get("reachable"):
                role = detail["role"]
                if self._roles.get(ident) == "replica" and role == "master":
                    self.note(f"failover: {ident} became a master")
                self._roles[ident] = role
        return {"at": time.time(), "processes": processes, "gateway": gateway,
                "redis": redis_nodes, "stores": await self._stores(status, processes),
                "urls": {k: v for k, v in status.items() if k.endswith("_url")},
                "events": list(self.events)}

    async def _stores(self, status: dict[str, Any],
                      processes: list[dict[str, Any]]) -> dict[str, Any]:
        """SQL and blobs: up/down and size (sizes re-measured every 5 s: a walk costs)."""
        now = self.clock()
        if self._sizes is None or now - self._sizes[0] >= 5.0:
            db = sqlite_path(str(status.get("database_url") or ""))
            blob_url = str(status.get("blob_url") or "")
            blob_dir = self.source.data_dir / "blobs"
            # The folder store or the embedded SeaweedFS keep their bytes there; an
            # external S3 store's size is not ours to walk.
            local_blobs = blob_url.startswith("file:") or any(
                p.get("role") == "blobs" for p in processes)

            def measure() -> dict[str, int | None]:
                return {"sql": db.stat().st_size if db is not None and db.exists() else None,
                        "blobs": tree_size(blob_dir) if local_blobs and blob_dir.exists()
                        else None}

            self._sizes = (now, await asyncio.to_thread(measure))
        sizes = self._sizes[1]
        blob_rows = [p for p in processes if p.get("role") == "blobs"]
        db_url = str(status.get("database_url") or "")
        return {
            "sql": {"kind": db_url.split(":", 1)[0] or "none",
                    "up": sqlite_path(db_url) is None or sizes["sql"] is not None,
                    "bytes": sizes["sql"]},
            "blobs": {"kind": str(status.get("blob_url") or "").split(":", 1)[0] or "none",
                      "up": all(p.get("state") == "up" for p in blob_rows),
                      "bytes": sizes["blobs"]},
        }

