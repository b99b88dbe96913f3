"""Looking at a Redis Cluster from the outside, as a client does.

- :func:`cluster_nodes` / :func:`slot_owners`: the slot map from ``CLUSTER NODES``;
- :func:`tags_in_slots`: hash tags whose keys land in chosen slots (to aim a
  write load at one master's keys);
- :class:`CountingClient`: a thin cluster client that routes every command to
  the owner of its key's slot itself, follows ``MOVED`` (update the map, retry)
  and ``ASK`` (``ASKING`` + retry on the importing node, map unchanged) exactly
  as the Redis Cluster spec says, and *counts* them: redis-py's cluster client
  follows redirections silently, and the resharding experiment is about how
  many a client sees.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.retry import Retry

SLOTS = 16384


@dataclass(frozen=True)
class Node:
    id: str
    addr: str  # host:port
    role: str  # "master" | "replica"
    master_id: str | None
    slots: tuple[tuple[int, int], ...]
    failed: bool


def parse_nodes(text: str) -> list[Node]:
    """``CLUSTER NODES`` output as :class:`Node` rows (slot ranges included)."""
    out: list[Node] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        flags = parts[2].split(",")
        slots: list[tuple[int, int]] = []
        for item in parts[8:]:
            if item.startswith("["):  # a slot being migrated/imported: [slot->-id]
                continue
            lo, _, hi = item.partition("-")
            slots.append((int(lo), int(hi or lo)))
        out.append(Node(parts[0], parts[1].split("@")[0],
                        "master" if "master" in flags else "replica",
                        None if parts[3] == "-" else parts[3], tuple(slots),
                        "fail" in flags or "fail?" in flags))
    return out


def client_for(addr: str, **kwargs: Any) -> redis.Redis:
    host, _, port = addr.rpartition(":")
    return redis.Redis(host=host, port=int(port), **kwargs)


def cluster_nodes(addr: str, timeout: float = 1.0, password: str | None = None) -> list[Node]:
    """``CLUSTER NODES`` without redis-py's parsing (it reshapes the reply)."""
    c = client_for(addr, socket_timeout=timeout, socket_connect_timeout=timeout,
                   retry=Retry(NoBackoff(), 0), password=password)
    c.set_response_callback("CLUSTER NODES", lambda response, **_: response)
    try:
        raw = c.execute_command("CLUSTER", "NODES")
    finally:
        c.close()
    return parse_nodes(raw.decode() if isinstance(raw, bytes) else str(raw))


def slot_owners(nodes: list[Node]) -> list[str | None]:
    """Address of the master owning each slot (None where nobody does)."""
    owners: list[str | None] = [None] * SLOTS
    for n in nodes:
        if n.role == "master" and not n.failed:
            for lo, hi in n.slots:
                for s in range(lo, hi + 1):
                    owners[s] = n.addr
    return owners


def tags_in_slots(slots: set[int], count: int) -> list[str]:
    """``count`` hash tags (``t<n>``) whose slot is in ``slots``."""
    out: list[str] = []
    i = 0
    while len(out) < count and i < 10_000_000:
        tag = f"t{i}"
        if key_slot(tag.encode()) in slots:
            out.append(tag)
        i += 1
    return out


class CountingClient:
    """Routes by slot itself; follows and counts MOVED and ASK. Thread-safe."""

    def __init__(self, seeds: list[str], timeout: float = 1.0,
                 password: str | None = None) -> None:
        self.timeout = timeout
        self.password = password
        self._lock = threading.Lock()
        self._clients: dict[str, redis.Redis] = {}
        self.moved = 0
        self.ask = 0
        self.owners: list[str | None] = [None] * SLOTS
        self.seeds = list(seeds)
        self.refresh()

    def _client(self, addr: str) -> redis.Redis:
        with self._lock:
            c = self._clients.get(addr)
            if c is None:
                # No silent retries (redis-py retries 3 times by default): this client
                # is here to show every failure the cluster causes.
                c = client_for(addr, socket_timeout=self.timeout,
                               socket_connect_timeout=self.timeout,
                               retry=Retry(NoBackoff(), 0), password=self.password)
                self._clients[addr] = c
            return c

    def refresh(self) -> None:
        """Learn the slot map from the first seed that answers."""
        for addr in self.seeds:
            try:
                self.owners = slot_owners(cluster_nodes(addr, password=self.password))
                return
            except redis.RedisError:
                continue
        raise redis.ConnectionError(f"no seed node answered: {self.seeds}")

    def execute(self, *args: Any, key: bytes) -> Any:
        slot = key_slot(key)
        addr = self.owners[slot] or self.seeds[0]
        for _ in range(5):
            try:
                return self._client(addr).execute_command(*args)
            except redis.exceptions.MovedError as exc:  # before AskError: it subclasses it
                with self._lock:
                    self.moved += 1
                addr = _redirect_addr(exc)
                self.owners[slot] = addr
            except redis.exceptions.AskError as exc:
                with self._lock:
                    self.ask += 1
                target = _redirect_addr(exc)
                pipe = self._client(target).pipeline(transaction=False)
                pipe.execute_command("ASKING")
                pipe.execute_command(*args)
                return pipe.execute()[1]
        raise redis.RedisError(f"too many redirections for slot {slot}")

    def pipeline(self, commands: list[tuple[Any, ...]], key: bytes) -> list[Any]:
        """Several commands on one connection to the key's owner (e.g. SET then WAIT)."""
        slot = key_slot(key)
        addr = self.owners[slot] or self.seeds[0]
        for _ in range(5):
            pipe = self._client(addr).pipeline(transaction=False)
            for cmd in commands:
                pipe.execute_command(*cmd)
            try:
                return pipe.execute()
            except redis.exceptions.MovedError as exc:
                with self._lock:
                    self.moved += 1
                addr = _redirect_addr(exc)
                self.owners[slot] = addr
        raise redis.RedisError(f"too many redirections for slot {slot}")

    def close(self) -> None:
        for c in self._clients.values():
            c.close()


def _redirect_addr(exc: redis.exceptions.ResponseError) -> str:
    # "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" (redis-py strips the word)
    addr = getattr(exc, "node_addr", None)  # redis-py: (host, port)
    if isinstance(addr, tuple):
        return f"{addr[0]}:{addr[1]}"
    return str(exc).split()[-1]
