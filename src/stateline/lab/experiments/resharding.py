"""Resharding: move hash slots between Redis Cluster masters while clients work.

The Redis Cluster procedure, slot by slot (what ``redis-cli --cluster
reshard`` does): ``CLUSTER SETSLOT s IMPORTING src`` on the destination,
``CLUSTER SETSLOT s MIGRATING dst`` on the source, ``MIGRATE`` the slot's keys
in batches, then ``CLUSTER SETSLOT s NODE dst`` on the destination, the source
and every other master. Meanwhile client threads read and write keys all over
the keyspace through :class:`~stateline.lab.cluster.CountingClient`, which
follows and counts ``MOVED`` and ``ASK``. The seed says stateful scaling is
hard; what it costs the clients here is redirections, and the goal is that it
costs them no errors and no keys.
"""

from __future__ import annotations

import random
import threading
import time

import redis

from stateline.lab import plots
from stateline.lab.cluster import CountingClient, Node, client_for, cluster_nodes
from stateline.lab.experiments.base import Context, Result, md_table
from stateline.lab.system import System

KEY_PREFIX = "reshard:"


#: What to see in redirects.png (printed under it).
CAPTION = ("Moving slots costs clients redirections (MOVED, ASK) and nothing else: the "
           "errors and keys-lost bars stay at 0.")


def migrate_slot(slot: int, src: Node, dst: Node, masters: list[Node], batch: int = 100,
                 password: str | None = None) -> int:
    """Move one slot from ``src`` to ``dst`` (keys included); returns the keys moved."""
    s = client_for(src.addr, socket_timeout=10, password=password)
    d = client_for(dst.addr, socket_timeout=10, password=password)
    auth = ["AUTH", password] if password else []
    try:
        d.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src.id)
        s.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst.id)
        host, _, port = dst.addr.rpartition(":")
        moved = 0
        while True:
            keys = s.execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch)
            if not keys:
                break
            s.execute_command("MIGRATE", host, int(port), "", 0, 5000, *auth, "KEYS", *keys)
            moved += len(keys)
        d.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst.id)
        s.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst.id)
        for m in masters:
            if m.id not in (src.id, dst.id):
                c = client_for(m.addr, socket_timeout=5, password=password)
                try:
                    c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst.id)
                finally:
                    c.close()
        return moved
    finally:
        s.close()
        d.close()


class Workload:
    """Client threads doing GET (checked) and SET on the preloaded keys."""

    def __init__(self, client: CountingClient, keys: int, threads: int = 2) -> None:
        self.client = client
        self.keys = keys
        self.threads = threads
        self.ops = 0
        self.errors: dict[str, int] = {}
        self.missing = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self._stop.is_set():
            i = rng.randrange(self.keys)
            key = f"{KEY_PREFIX}{i}".encode()
            try:
                if rng.random() < 0.8:
                    value = self.client.execute("GET", key, key=key)
                    if value != str(i).encode():
                        with self._lock:
                            self.missing += 1
                else:
                    self.client.execute("SET", key, str(i), key=key)
                with self._lock:
                    self.ops += 1
            except redis.RedisError as exc:
                with self._lock:
                    kind = type(exc).__name__
                    self.errors[kind] = self.errors.get(kind, 0) + 1

    def start(self) -> None:
        for n in range(self.threads):
            t = threading.Thread(target=self._run, args=(n,), daemon=True)
            t.start()
            self._workers.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(10)


def preload(client: CountingClient, keys: int) -> None:
    for i in range(keys):
        key = f"{KEY_PREFIX}{i}".encode()
        client.execute("SET", key, str(i), key=key)


def run(ctx: Context) -> Result:
    n_keys = 20_000 if ctx.quick else 100_000
    n_slots = 300 if ctx.quick else 2_000
    with System(1, ctx.log) as system:
        masters = [p for p in system.processes("redis") if p["role"] == "redis-master"]
        seed = masters[0]["address"]
        password = system.redis_password
        client = CountingClient([p["address"] for p in masters], password=password)
        ctx.log(f"resharding: preloading {n_keys:,} keys")
        preload(client, n_keys)
        nodes = [n for n in cluster_nodes(seed, password=password)
                 if n.role == "master" and not n.failed]
        src, dst = nodes[0], nodes[1]
        slots = [s for lo, hi in src.slots for s in range(lo, hi + 1)][:n_slots]
        work = Workload(client, n_keys)
        redirects_before = (client.moved, client.ask)
        work.start()
        time.sleep(1.0)
        ctx.log(f"resharding: moving {len(slots)} slots {src.addr} → {dst.addr} under load")
        started = time.monotonic()
        keys_moved = sum(migrate_slot(s, src, dst, nodes, password=password) for s in slots)
        took = time.monotonic() - started
        time.sleep(1.0)
        work.stop()
        moved_redirects = client.moved - redirects_before[0]
        ask_redirects = client.ask - redirects_before[1]
        lost = sum(1 for i in range(n_keys)
                   if client.execute("GET", f"{KEY_PREFIX}{i}".encode(),
                                     key=f"{KEY_PREFIX}{i}".encode()) != str(i).encode())
        after = {n.addr: sum(hi - lo + 1 for lo, hi in n.slots)
                 for n in cluster_nodes(seed, password=password) if n.role == "master"}
        client.close()
    errors = sum(work.errors.values()) + work.missing
    data = {"keys": n_keys, "slots_moved": len(slots), "keys_moved": keys_moved,
            "source": src.addr, "destination": dst.addr, "migration_s": round(took, 2),
            "client_ops": work.ops, "moved_redirects": moved_redirects,
            "ask_redirects": ask_redirects, "client_errors": work.errors,
            "reads_missing_or_wrong": work.missing, "keys_lost": lost,
            "slots_per_master_after": after, "teardown": system.teardown}
    rows = [["slots moved", f"{len(slots):,} ({keys_moved:,} keys) in {took:.1f} s"],
            ["client operations during the run", f"{work.ops:,}"],
            ["MOVED redirections seen by clients", f"{moved_redirects:,}"],
            ["ASK redirections seen by clients", f"{ask_redirects:,}"],
            ["client errors", f"{sum(work.errors.values()):,} {work.errors or ''}"],
            ["reads that found a key missing or wrong", f"{work.missing:,}"],
            ["keys lost (checked after)", f"{lost:,}"]]
    md = (
        f"{n_keys:,} keys spread over all slots; 2 client threads do GET (checked against the "
        f"expected value) and SET on random keys while {len(slots):,} slots move from "
        f"{src.addr} to {dst.addr} with SETSLOT IMPORTING/MIGRATING, MIGRATE and SETSLOT NODE.\n\n"
        + md_table(["figure", "value"], rows)
        + "\n\nA cluster-aware client pays for resharding in redirections: `ASK` while a slot "
        "is half moved, `MOVED` once for each slot whose new owner it has not learned yet. "
        "Nothing is lost and no request fails, but every client must implement the "
        "redirections: that is the routing work the stateless tier never needs.\n"
    )
    png = plots.bars(["MOVED", "ASK", "errors", "keys lost"],
                     {"count": [moved_redirects, ask_redirects, errors, lost]},
                     "count", f"Moving {len(slots):,} slots under load", caption=CAPTION)
    headline = {"slots_moved": len(slots), "keys_moved": keys_moved,
                "moved_redirects": moved_redirects, "ask_redirects": ask_redirects,
                "errors": errors, "keys_lost": lost}
    return Result("resharding", "Resharding Redis Cluster slots under load", data, headline,
                  md, {"redirects.png": png},
                  {"redirects.png": CAPTION})


__all__ = ["Workload", "migrate_slot", "preload", "run"]
