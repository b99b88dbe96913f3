"""The gateway configuration ``stateline up`` writes: two pools, two routes.

``/api/rooms/`` goes to the ``shards`` pool with the ``rendezvous`` balancer,
keyed by path segment 3 (the room id in ``/api/rooms/<room>/...``), so every
gateway replica sends a room to the same shard; everything else goes round
robin to the stateless ``apps`` pool. Both pools take their members from the
registry. The file holds the Redis URL without credentials (the gateway
takes those from its environment, see ``specs.gateway_spec``) and is written
readable by its owner only all the same.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOMS_PREFIX = "/api/rooms/"
#: ``/api/rooms/<room>``: the room id is path segment 3.
ROOMS_KEY = "path:3"
#: A 421 from a shard that does not own a room is retried on the next one; with
#: up to 4 shards in view during a handoff, three extra attempts reach them all.
SHARD_RETRIES = 3


def _s(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def render(port: int, redis_url: str, apps_pool: str, shards_pool: str) -> str:
    return "\n".join([
        "# written by `stateline up`; regenerated on every start",
        "[gateway]",
        f"listen = {_s(f'127.0.0.1:{port}')}",
        f"redis_url = {_s(redis_url)}",
        "",
        f"[pools.{apps_pool}]",
        f"registry = {_s(apps_pool)}",
        "",
        f"[pools.{shards_pool}]",
        f"registry = {_s(shards_pool)}",
        'policy = "rendezvous"',
        f"key = {_s(ROOMS_KEY)}",
        f"retries = {SHARD_RETRIES}",
        "",
        "[[routes]]",
        f"prefix = {_s(ROOMS_PREFIX)}",
        f"pool = {_s(shards_pool)}",
        "",
        "[[routes]]",
        'prefix = "/"',
        f"pool = {_s(apps_pool)}",
        "",
    ])


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (mode 0600, atomically) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)
    return path
