"""Stateful shard: rooms kept in shard memory against player positions kept in Redis.

One ``stateline up`` (3 app instances, 3 rooms shards). In order:

1. **Throughput and latency, side by side.** The same shape of traffic
   (half position writes, half position reads, over the same number of
   players) goes to the Redis-backed players service and to the in-memory
   rooms service: once open loop at the same offered rate (p50/p99), once
   closed loop (the most each serves here: ``rps``).
2. **Writers start**: a few threads move players, each move carrying a
   per-player sequence number as ``x``, retried until acknowledged; every
   acknowledged number is remembered.
3. **SIGKILL shard-2.** Every room it owned is probed until it answers again:
   ``recovery_s`` is the longest time from the kill to a room's first
   successful read (the median is kept too).
4. **Scale 3 → 4**, then **4 → 3** (a drain): owners are read from
   ``X-Served-By`` before and after; ``moved_fraction`` is the share of rooms
   whose owner changed on 3 → 4 (rendezvous: about a quarter).
5. **Verification**: every room is read; a player whose position is below its
   last acknowledged sequence number is an acknowledged move lost
   (``lost_acknowledged``). ``misrouted`` is the number of requests the shards
   refused as not theirs (421), summed over the live shards' counters.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from typing import Any

from stateline.lab.experiments.base import Context, Result, md_table
from stateline.lab.loadgen import LoadConfig, run_load
from stateline.lab.mix import parse_mix
from stateline.lab.system import Client, System, http_get

PLAYERS_PER_ROOM = 4
HANG_GUARD_S = 60.0


def _mix(service: str, rooms: int, kind: str = "mix") -> dict[str, Any]:
    """Position writes and/or reads over ``rooms`` x PLAYERS_PER_ROOM players."""
    if service == "rooms":
        path = f"/api/rooms/r{{rand:{rooms}}}/players/p{{rand:{PLAYERS_PER_ROOM}}}/position"
    else:
        path = f"/api/players/r{{rand:{rooms}}}-p{{rand:{PLAYERS_PER_ROOM}}}/position"
    move = {"name": f"{service}-move", "weight": 1, "method": "PUT", "path": path,
            "json": {"x": "{rand:1000}", "y": "{rand:1000}"}}
    read = {"name": f"{service}-read", "weight": 1, "method": "GET", "path": path}
    return {"requests": {"mix": [move, read], "move": [move], "read": [read]}[kind]}


def _until_ok(client: Client, method: str, path: str, body: Any = None,
              guard: float = HANG_GUARD_S) -> tuple[int, dict[str, str], Any]:
    """Retry (421/502/503: a room between owners) until a 2xx; a 4xx is returned as is."""
    deadline = time.monotonic() + guard
    while True:
        try:
            status, headers, data = client.request(method, path, body)
        except OSError:
            status, headers, data = 599, {}, None
        if status < 400 or (400 <= status < 500 and status != 421):
            return status, headers, data
        if time.monotonic() > deadline:
            raise RuntimeError(f"{method} {path}: still {status} after {guard:g}s")
        time.sleep(0.02)


def _populate(system: System, rooms: int) -> None:
    client = system.client()
    try:
        for r in range(rooms):
            for p in range(PLAYERS_PER_ROOM):
                _until_ok(client, "POST", f"/api/rooms/r{r}/players",
                          {"player_id": f"p{p}", "x": 0, "y": 0})
                _until_ok(client, "PUT", f"/api/players/r{r}-p{p}/position", {"x": 0, "y": 0})
    finally:
        client.close()


def _owners(system: System, rooms: list[str]) -> dict[str, str]:
    client = system.client()
    try:
        return {r: _until_ok(client, "GET", f"/api/rooms/{r}")[1].get("x-served-by", "?")
                for r in rooms}
    finally:
        client.close()


class Writers:
    """Threads moving players with increasing sequence numbers, each retried until acked."""

    def __init__(self, system: System, rooms: list[str], threads: int) -> None:
        self.system = system
        self.acked: dict[tuple[str, str], int] = {}
        self.failed_attempts = 0
        self._stop = threading.Event()
        shares = [rooms[i::threads] for i in range(threads)]
        self._threads = [threading.Thread(target=self._run, args=(share, i), daemon=True)
                         for i, share in enumerate(shares) if share]

    def start(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(HANG_GUARD_S + 10)

    def _run(self, rooms: list[str], seed: int) -> None:
        rng = random.Random(seed)
        client = self.system.client()
        seq: dict[tuple[str, str], int] = {}
        try:
            while not self._stop.is_set():
                room, player = rng.choice(rooms), f"p{rng.randrange(PLAYERS_PER_ROOM)}"
                n = seq.get((room, player), 0) + 1
                seq[(room, player)] = n
                path = f"/api/rooms/{room}/players/{player}/position"
                while not self._stop.is_set():
                    try:
                        status, _, _ = client.request("PUT", path, {"x": n, "y": 0})
                    except OSError:
                        status = 599
                    if status == 200:
                        self.acked[(room, player)] = n
                        break
                    self.failed_attempts += 1
                    time.sleep(0.02)
        finally:
            client.close()


def _recovery(system: System, rooms: list[str], killed_at: float) -> list[float]:
    """Seconds from the kill until each room first answered a read again.

    One prober thread per room: a refused read can take a while (a shard waits
    one membership poll before refusing), and probing the rooms in turn would
    add those waits to every room's figure.
    """
    recovered: dict[str, float] = {}

    def probe(room: str) -> None:
        client = system.client()
        deadline = time.monotonic() + HANG_GUARD_S
        try:
            while time.monotonic() < deadline:
                try:
                    status, _, _ = client.request("GET", f"/api/rooms/{room}")
                except OSError:
                    status = 599
                if status == 200:
                    recovered[room] = time.monotonic() - killed_at
                    return
                time.sleep(0.01)
        finally:
            client.close()

    threads = [threading.Thread(target=probe, args=(room,), daemon=True) for room in rooms]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_GUARD_S + 10)
    missing = sorted(set(rooms) - set(recovered))
    if missing:
        raise RuntimeError(f"rooms {missing} did not come back within {HANG_GUARD_S}s")
    return sorted(recovered.values())


def _misdirected(system: System) -> int:
    total = 0
    for p in system.processes("shard"):
        try:
            status, _, body = http_get(f"http://{p['address']}/_stateline/shard", 2.0)
        except OSError:
            continue
        if status == 200:
            total += int(json.loads(body).get("misdirected", 0))
    return total


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    return {k: run[k] for k in ("requests", "failed", "throughput_rps", "latency", "errors")}


def _measure(system: System, rooms: int, rate: float, seconds: float,
             log: Any) -> dict[str, dict[str, Any]]:
    """Per service and kind (mix, move, read): p50/p99 open loop at ``rate``, rps closed loop.

    The two services take turns within each kind, so a busy moment of the
    (shared) machine does not fall on one service alone. CPU seconds per
    request by role show where the time goes.
    """
    out: dict[str, dict[str, Any]] = {"players": {}, "rooms": {}}
    for kind in ("mix", "move", "read"):
        for service in ("players", "rooms"):
            mix = parse_mix(_mix(service, rooms, kind))
            log(f"{service} {kind}: open loop {rate:g} req/s, then closed loop, {seconds:g}s each")
            opened = run_load(LoadConfig(system.gateway_url, rate=rate, duration=seconds,
                                         mix=mix, seed=1,
                                         label=f"{service} {kind}, open loop"))
            cpu0 = system.cpu_seconds()
            closed = run_load(LoadConfig(system.gateway_url, connections=16, duration=seconds,
                                         mix=mix, seed=2,
                                         label=f"{service} {kind}, closed loop"))
            cpu1 = system.cpu_seconds()
            n = max(1, closed["requests"])
            cpu_us = {role: round((cpu1[role] - cpu0.get(role, 0.0)) / n * 1e6, 1)
                      for role in cpu1 if role != "lab"}
            out[service][kind] = {
                "rps": closed["throughput_rps"],
                "p50_ms": opened["latency"]["p50_ms"],
                "p99_ms": opened["latency"]["p99_ms"],
                "cpu_us_per_request": cpu_us,
                "open_loop": _summary(opened), "closed_loop": _summary(closed),
            }
    for figures in out.values():
        figures.update({k: figures["mix"][k] for k in ("rps", "p50_ms", "p99_ms")})
    return out


def run(ctx: Context) -> Result:
    rooms_n = 40 if ctx.quick else 200
    rate = 300.0 if ctx.quick else 600.0
    seconds = 4.0 if ctx.quick else 15.0
    room_ids = [f"r{i}" for i in range(rooms_n)]
    with System(3, ctx.log) as system:
        ctx.log(f"stateful-shard: {rooms_n} rooms x {PLAYERS_PER_ROOM} players")
        _populate(system, rooms_n)
        misrouted_before = _misdirected(system)
        services = _measure(system, rooms_n, rate, seconds, ctx.log)
        misrouted_under_load = _misdirected(system) - misrouted_before
        writers = Writers(system, room_ids, threads=4).start()
        before = _owners(system, room_ids)
        affected = [r for r, owner in before.items() if owner == "shard-2"]
        killed_at = time.monotonic()
        system.kill("shard-2")
        ctx.log(f"SIGKILL shard-2: {len(affected)} rooms affected")
        recovery = _recovery(system, affected, killed_at)
        time.sleep(3.0)  # shard-2 back (restarted), views settled
        settled = _owners(system, room_ids)
        ctx.log("scale shards 3 → 4")
        system.call({"cmd": "scale", "shards": 4})
        time.sleep(2.0)
        after_up = _owners(system, room_ids)
        moved = [r for r in room_ids if after_up[r] != settled[r]]
        ctx.log("scale shards 4 → 3 (drain)")
        system.call({"cmd": "scale", "shards": 3})
        time.sleep(2.0)
        after_down = _owners(system, room_ids)
        writers.stop()
        client = system.client()
        lost: list[dict[str, Any]] = []
        try:
            for room in room_ids:
                _, _, view = _until_ok(client, "GET", f"/api/rooms/{room}")
                xs = {p["player_id"]: p["x"] for p in view["players"]}
                for p in range(PLAYERS_PER_ROOM):
                    want = writers.acked.get((room, f"p{p}"))
                    got = xs.get(f"p{p}")
                    if want is not None and (got is None or got < want):
                        lost.append({"room": room, "player": f"p{p}", "acked": want,
                                     "found": got})
        finally:
            client.close()
        misrouted = _misdirected(system)
    data = {
        "rooms": rooms_n,
        "players_per_room": PLAYERS_PER_ROOM,
        "offered_rate": rate,
        "load_seconds": seconds,
        "services": services,
        "rooms_service": services["rooms"],
        "players_service": services["players"],
        "lost_acknowledged": len(lost),
        "lost": lost[:20],
        "acknowledged_moves": sum(writers.acked.values()),
        "failed_attempts": writers.failed_attempts,
        "recovery_s": round(recovery[-1], 3) if recovery else 0.0,
        "recovery_median_s": round(statistics.median(recovery), 3) if recovery else 0.0,
        "affected_rooms": len(affected),
        "moved_fraction": round(len(moved) / rooms_n, 3),
        "moved_on_scale_down": sum(1 for r in room_ids if after_down[r] != after_up[r]),
        "misrouted": misrouted,
        "misrouted_under_load": misrouted_under_load,
        "owners_before": {s: sum(1 for o in before.values() if o == s)
                          for s in sorted(set(before.values()))},
        "owners_after_scale_up": {s: sum(1 for o in after_up.values() if o == s)
                                  for s in sorted(set(after_up.values()))},
        "teardown": system.teardown,
    }
    r, p = services["rooms"], services["players"]
    rows = [
        [f"{name} {kind}", f"{services[svc][kind]['rps']:,}", services[svc][kind]["p50_ms"],
         services[svc][kind]["p99_ms"],
         " ".join(f"{role} {us:g}" for role, us in
                  sorted(services[svc][kind]["cpu_us_per_request"].items()))]
        for kind in ("mix", "move", "read")
        for svc, name in (("rooms", "rooms (shard memory)"),
                          ("players", "players (Redis Cluster)"))
    ]
    md = (
        f"{rooms_n} rooms of {PLAYERS_PER_ROOM} players; the same traffic to each service: "
        "mix = half position writes, half reads; then writes alone and reads alone. rps: "
        f"closed loop, 16 connections, {seconds:g} s; p50/p99: open loop at {rate:g} req/s. "
        "CPU: microseconds per request by role during the closed loop.\n\n"
        + md_table(["service", "rps", "p50 ms", "p99 ms", "CPU µs/request"], rows)
        + "\n\n"
        + md_table(["figure", "value"], [
            ["rooms affected by SIGKILL of shard-2", len(affected)],
            ["recovery: kill → first good read, worst / median room",
             f"{data['recovery_s']} / {data['recovery_median_s']} s"],
            ["share of rooms moved on 3 → 4", f"{data['moved_fraction'] * 100:.1f} %"],
            ["rooms moved back on 4 → 3", data["moved_on_scale_down"]],
            ["acknowledged moves lost", len(lost)],
            ["requests refused by a non-owner (421)", misrouted],
        ]) + "\n"
    )
    headline = {
        "rooms_rps": r["rps"], "players_rps": p["rps"],
        "rooms_p99_ms": r["p99_ms"], "players_p99_ms": p["p99_ms"],
        "recovery_s": data["recovery_s"], "lost_acknowledged": len(lost),
        "moved_fraction": data["moved_fraction"], "misrouted": misrouted,
    }
    return Result("stateful-shard", "In-memory rooms shards vs Redis-backed players", data,
                  headline, md)
