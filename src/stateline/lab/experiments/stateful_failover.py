"""Stateful failover: SIGKILL a Redis Cluster master under a write load.

A writer sets a new key every ~millisecond, alternating between keys in the
victim master's slots and keys elsewhere, through a client that fails fast
and re-learns the slot map after a failure (:class:`CountingClient`). The
victim is SIGKILLed through the supervisor, which restarts it; its replica is
promoted by the cluster and the old master must come back as a replica.
Two rounds: plain writes (acknowledged when the master says OK) and writes
followed by ``WAIT 1`` (acknowledged only once a replica has them). Afterwards
every acknowledged key is read back: a missing one is an acknowledged write lost.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import redis

from stateline.lab import plots, progress
from stateline.lab.cluster import CountingClient, Node, cluster_nodes, tags_in_slots
from stateline.lab.experiments.base import Context, Result, md_table
from stateline.lab.metrics import unavailability_window
from stateline.lab.system import System, SystemFailure


class Writer:
    """Sequential writes of unique keys; records (start, latency, ok, acked, victim, key)."""

    def __init__(self, client: CountingClient, victim_tags: list[str], other_tags: list[str],
                 mode: str, prefix: str) -> None:
        self.client = client
        self.tags = (victim_tags, other_tags)
        self.mode = mode
        self.prefix = prefix
        self.records: list[tuple[float, float, bool, bool, bool, str]] = []
        self.unconfirmed = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def counts(self) -> tuple[int, int]:
        """Writes so far and how many failed (what a progress display shows)."""
        return len(self.records), self.failed

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            victim = seq % 2 == 0
            tags = self.tags[0 if victim else 1]
            key = f"{self.prefix}{{{tags[seq % len(tags)]}}}:{seq}"
            started = self.now()
            ok = acked = False
            try:
                if self.mode == "wait":
                    _, replicas = self.client.pipeline(
                        [("SET", key, seq), ("WAIT", 1, 500)], key=key.encode())
                    ok = True
                    acked = int(replicas) >= 1
                    if not acked:
                        self.unconfirmed += 1
                else:
                    self.client.execute("SET", key, seq, key=key.encode())
                    ok = acked = True
            except redis.RedisError:
                with contextlib.suppress(redis.RedisError):
                    self.client.refresh()
                time.sleep(0.02)
            self.records.append((started, self.now() - started, ok, acked, victim, key))
            self.failed += not ok
            seq += 1
            time.sleep(0.001)

    def start(self) -> Writer:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


#: What to see in each writes_MODE.png (printed under it).
CAPTION = ("After the SIGKILL, writes fail (red row) until a replica is promoted; the gap "
           "between the dashed line and the first success again is the unavailability window.")


def master_of(nodes: list[Node], addr: str) -> Node | None:
    return next((n for n in nodes if n.addr == addr and n.role == "master"), None)


def wait_for(predicate: Any, timeout: float, step: float = 0.05) -> float | None:
    """Seconds until ``predicate()`` held, or None after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if predicate():
                return time.monotonic() - start
        except redis.RedisError:
            pass
        time.sleep(step)
    return None


def one_round(system: System, mode: str, victim_index: int, before: float, after: float,
              log: Any) -> dict[str, Any]:
    redis_procs = system.processes("redis")
    seeds = [p["address"] for p in redis_procs]
    password = system.redis_password
    live = next(a for a in seeds
                if wait_for(lambda a=a: cluster_nodes(a, password=password), 1) is not None)
    masters = sorted((n for n in cluster_nodes(live, password=password)
                      if n.role == "master" and not n.failed),
                     key=lambda n: n.slots)
    victim = masters[victim_index % len(masters)]
    victim_proc = next(p for p in redis_procs if p["address"] == victim.addr)
    victim_slots = {s for lo, hi in victim.slots for s in range(lo, hi + 1)}
    other_slots = set(range(16384)) - victim_slots
    client = CountingClient(seeds, timeout=0.5, password=password)
    writer = Writer(client, tags_in_slots(victim_slots, 64), tags_in_slots(other_slots, 64),
                    mode, f"sf:{mode}:").start()
    with progress.ticking(f"writes ({mode})", before + after, writer.counts):
        time.sleep(before)
        kill_at = writer.now()
        system.kill(victim_proc["id"])
        log(f"stateful-failover ({mode}): t={kill_at:.1f}s SIGKILL {victim_proc['id']} "
            f"(master {victim.addr}, {len(victim_slots)} slots)")
        survivor = next(n.addr for n in masters if n.addr != victim.addr)
        first_slot = min(victim_slots)
        promoted = rejoined = None
        while writer.now() - kill_at < after or (rejoined is None
                                                 and writer.now() - kill_at < after + 30):
            since = writer.now() - kill_at
            try:
                nodes = cluster_nodes(survivor, password=password)
            except redis.RedisError:
                nodes = []
            if promoted is None and any(
                    n.role == "master" and not n.failed and n.addr != victim.addr
                    and any(lo <= first_slot <= hi for lo, hi in n.slots) for n in nodes):
                promoted = since
            if rejoined is None and any(n.addr == victim.addr and n.role == "replica"
                                        and not n.failed for n in nodes):
                rejoined = since
            if since >= after:
                writer.stop()
            time.sleep(0.1)
        writer.stop()
    wait_for(lambda: _cluster_ok(survivor, password), 30, 0.2)
    client.refresh()
    acked = [r for r in writer.records if r[3]]
    lost = [r[5] for r in acked if client.execute("GET", r[5], key=r[5].encode()) is None]
    client.close()
    victim_outcomes = [(r[0], r[2]) for r in writer.records if r[4]]
    other_outcomes = [(r[0], r[2]) for r in writer.records if not r[4]]
    return {
        "mode": mode,
        "victim": victim_proc["id"],
        "victim_addr": victim.addr,
        "victim_slots": len(victim_slots),
        "kill_at": round(kill_at, 3),
        "promotion_s": round(promoted, 3) if promoted is not None else None,
        "writes": len(writer.records),
        "failed": sum(1 for r in writer.records if not r[2]),
        "acknowledged": len(acked),
        "unconfirmed_by_wait": writer.unconfirmed,
        "lost_acknowledged": len(lost),
        "lost_keys_sample": lost[:10],
        "victim_slots_window": unavailability_window(victim_outcomes, kill_at),
        "other_slots_window": unavailability_window(other_outcomes, kill_at),
        "rejoined_as_replica": rejoined is not None,
        "rejoin_s": round(rejoined, 2) if rejoined is not None else None,
        # every 4th write for the plot, and every slow one (the interesting ones)
        "points": [(round(r[0], 3), round(r[1] * 1e3, 2))
                   for i, r in enumerate(writer.records) if r[2] and (i % 4 == 0 or r[1] > 0.05)],
        "failures": [round(r[0], 3) for r in writer.records if not r[2]],
    }


def _cluster_ok(addr: str, password: str | None) -> bool:
    from stateline.lab.cluster import client_for

    c = client_for(addr, socket_timeout=1, decode_responses=True, password=password)
    try:
        return "cluster_state:ok" in c.execute_command("CLUSTER", "INFO")
    finally:
        c.close()


def run(ctx: Context) -> Result:
    before, after = (3.0, 10.0) if ctx.quick else (5.0, 20.0)
    rounds: list[dict[str, Any]] = []
    with System(1, ctx.log) as system:
        for i, mode in enumerate(("plain", "wait")):
            rounds.append(one_round(system, mode, i, before, after, ctx.log))
    teardown = system.teardown
    if len(rounds) != 2:
        raise SystemFailure("stateful-failover did not complete both rounds")
    plain, wait = rounds
    rows = []
    for label, key in (("writes", "writes"), ("failed writes", "failed"),
                       ("acknowledged", "acknowledged"),
                       ("not confirmed by WAIT (counted as not acknowledged)",
                        "unconfirmed_by_wait"),
                       ("acknowledged writes lost", "lost_acknowledged"),
                       ("replica promoted after (s)", "promotion_s"),
                       ("old master back as a replica (s after the kill)", "rejoin_s")):
        rows.append([label, plain[key], wait[key]])
    rows.append(["victim's slots unavailable (s)", plain["victim_slots_window"]["window_s"],
                 wait["victim_slots_window"]["window_s"]])
    rows.append(["other masters' slots unavailable (s)",
                 plain["other_slots_window"]["window_s"], wait["other_slots_window"]["window_s"]])
    md = (
        "A writer sets unique keys, alternating between the victim master's slots and the "
        "others', through a client that fails fast and re-learns the slot map after each "
        "failure. The victim master is SIGKILLed through the supervisor (which restarts it). "
        "Unavailability window: from the first failed write after the kill to the next "
        "successful one after the last failure.\n\n"
        + md_table(["", "plain SET", "SET + WAIT 1"], rows)
        + "\n\nThe other masters' slots are shown because the embedded cluster keeps "
        "`cluster-require-full-coverage yes`: once the cluster marks the dead master as "
        "failed and until its replica takes over, every node refuses queries, not only the "
        "victim. `WAIT 1` does not make Redis strongly consistent (a replica can still be "
        "promoted without the last writes), but here a write counts as acknowledged only "
        "once a replica has it.\n"
    )
    pngs = {f"writes_{r['mode']}.png": plots.events(
        r["points"], r["failures"], [(r["kill_at"], f"SIGKILL {r['victim']}")],
        "write latency (ms)", f"Writes around a master SIGKILL ({r['mode']})",
        caption=CAPTION) for r in rounds}
    for r in rounds:
        r.pop("points")
    headline = {
        "window_s_plain": plain["victim_slots_window"]["window_s"],
        "window_s_wait": wait["victim_slots_window"]["window_s"],
        "failed_plain": plain["failed"], "failed_wait": wait["failed"],
        "lost_plain": plain["lost_acknowledged"], "lost_wait": wait["lost_acknowledged"],
        "acked_plain": plain["acknowledged"], "acked_wait": wait["acknowledged"],
        "promotion_s_plain": plain["promotion_s"],
        "rejoined_as_replica": plain["rejoined_as_replica"] and wait["rejoined_as_replica"],
    }
    return Result("stateful-failover", "Stateful failover: SIGKILL a Redis Cluster master",
                  {"rounds": rounds, "teardown": teardown}, headline, md, pngs,
                  dict.fromkeys(pngs, CAPTION))
