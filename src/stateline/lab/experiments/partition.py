"""Partition: a Redis master and one app host cut off from the rest, Jepsen's "set" test.

Every component runs on its own host (:mod:`stateline.lab.hostsystem`, one
Redis node per host). Two clients (:mod:`stateline.lab.setwriter`) add unique
elements to one set whose slot the victim master owns: one on ``app1``, which
is cut off *with* the victim (the minority side), one on ``app2`` (the
majority). The cut is silent (packets dropped on arrival) and lasts several
``cluster-node-timeout``\\ s, so the majority promotes the victim's replica;
then it heals, the old master rejoins as a replica of the new one, and the
set is read back. An acknowledged element missing from it is a lost write.

Twice: plain ``SADD``, and ``SADD`` + ``WAIT 1`` (acknowledged only once a
replica has it; the minority master's replica is on the other side, so
``WAIT`` cannot be satisfied there).

Redis's documented bound (Redis Cluster specification, "Write safety"): a
master in the minority side stops accepting writes once ``cluster-node-timeout``
has passed without reaching the majority of masters, so the writes at risk are
those sent to it in about ``node_timeout`` after the partition began. The
report checks whether every lost write was acknowledged inside that window.

Then the stateless case: ``app3`` is cut off from the gateway while a client
sends requests through it; count failures and how long the gateway took to
eject it, and to take it back after healing.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis

from stateline.lab.cluster import CountingClient, cluster_nodes, tags_in_slots
from stateline.lab.experiments.base import Context, Result, md_table
from stateline.lab.hostsystem import HostSystem
from stateline.lab.jepsen_set import analyse
from stateline.stores.redis import PASSWORD_ENV


def _poll(predicate: Any, timeout: float, step: float = 0.05) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if predicate():
                return time.monotonic() - start
        except (redis.RedisError, OSError):
            pass
        time.sleep(step)
    return None


def _read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _converged(system: HostSystem) -> bool:
    assert system.cluster is not None
    return system.cluster.is_healthy()


def one_round(system: HostSystem, mode: str, before: float, cut: float, after: float,
              log: Any) -> dict[str, Any]:
    cluster = system.cluster
    assert cluster is not None and cluster.password
    password = cluster.password
    seeds = [n.address for n in cluster.nodes]
    nodes = cluster_nodes(seeds[0], password=password)
    masters = [n for n in nodes if n.role == "master" and not n.failed and n.slots]
    victim = masters[0]
    victim_node = next(n for n in cluster.nodes if n.address == victim.addr)
    victim_host = system.redis_host_of(victim_node.id)
    slots = {s for lo, hi in victim.slots for s in range(lo, hi + 1)}
    key = f"jepsen:{mode}:{{{tags_in_slots(slots, 1)[0]}}}"
    others = [a for a in seeds if a != victim.addr]
    t_start = time.time()
    until = t_start + before + cut + after
    logs = {side: system.workdir / f"set-{mode}-{side}.jsonl" for side in ("minority",
                                                                             "majority")}
    writers = {}
    for side, host, order in (("minority", "app1", [victim.addr, *others]),
                              ("majority", "app2", [*others, victim.addr])):
        env = system.app_env(host)
        env[PASSWORD_ENV] = password
        writers[side] = system.hosts.spawn(host, [
            sys.executable, "-m", "stateline.lab.setwriter", "--seeds", ",".join(order),
            "--key", key, "--prefix", f"{side[:3]}", "--mode", mode,
            "--until", str(until), "--out", str(logs[side])],
            system.workdir / "logs" / f"setwriter-{mode}-{side}.log", env)
    time.sleep(max(0.0, t_start + before - time.time()))
    side = [victim_host, "app1"]
    cut_at = time.time()
    system.faults.partition(side)
    log(f"partition ({mode}): cut {victim_host} (master {victim_node.id} {victim.addr}) and "
        f"app1 off from the rest for {cut:.0f}s")
    promoted_at = None
    observer = CountingClient(others, timeout=0.3, password=password)
    first_slot = min(slots)
    while time.time() < cut_at + cut:
        if promoted_at is None:
            try:
                view = cluster_nodes(others[0], timeout=0.3, password=password)
                if any(n.role == "master" and not n.failed and n.addr != victim.addr
                       and any(lo <= first_slot <= hi for lo, hi in n.slots) for n in view):
                    promoted_at = time.time()
            except redis.RedisError:
                pass
        time.sleep(0.05)
    healed_at = time.time()  # the partition's end: healing starts now
    system.faults.heal()
    log(f"partition ({mode}): healed after {healed_at - cut_at:.1f}s")
    demoted_at = None
    old = cluster._client(victim_node.port, victim_node.host)  # the controller reaches both sides
    waited = _poll(lambda: old.execute_command("ROLE")[0] in (b"slave", "slave"), 30)
    if waited is not None:
        demoted_at = time.time()
    for w in writers.values():
        w.wait(max(5.0, until - time.time() + 10))
    _poll(lambda: _converged(system), 30, 0.2)
    observer.refresh()
    final = {m.decode() if isinstance(m, bytes) else str(m)
             for m in observer.execute("SMEMBERS", key, key=key.encode())}
    observer.close()

    records = {s: _read_log(p) for s, p in logs.items()}
    figures = analyse(records, final, cut_at, healed_at, system.node_timeout_ms / 1000)
    return {
        "mode": mode, "key": key, "victim": victim_node.id, "victim_host": victim_host,
        "victim_addr": victim.addr, "minority": side,
        "promotion_s": round(promoted_at - cut_at, 3) if promoted_at else None,
        "old_master_demoted_s": round(demoted_at - cut_at, 3) if demoted_at else None,
        **figures,
    }


def stateless_round(system: HostSystem, before: float, cut: float, after: float,
                    log: Any) -> dict[str, Any]:
    """Cut app3 off from the gateway under load; count failures, time to eject and return."""
    import httpx

    results: list[tuple[float, bool, float]] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=system.gateway_url, timeout=5) as c:
            while not stop.is_set():
                t = time.time()
                try:
                    ok = c.get("/api/calc/add", params={"a": 1, "b": 2}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                results.append((t, ok, time.time() - t))
                time.sleep(0.005)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(4)]
    for th in threads:
        th.start()
    time.sleep(before)
    cut_at = time.time()
    system.faults.cut("app3", ["gw"])
    log(f"partition (stateless): cut app3 off from the gateway for {cut:.0f}s")
    ejected_at = None
    while time.time() < cut_at + cut:
        if ejected_at is None:
            try:
                if system.members().get("app3", {}).get("state") != "healthy":
                    ejected_at = time.time()
            except (httpx.HTTPError, ValueError):
                pass
        time.sleep(0.05)
    healed_at = time.time()
    system.faults.heal()
    back = _poll(lambda: system.members()["app3"]["state"] == "healthy", after + 30, 0.1)
    time.sleep(max(0.0, after - (time.time() - healed_at)))
    stop.set()
    for th in threads:
        th.join(10)
    during = [r for r in results if cut_at <= r[0] < healed_at]
    return {
        "cut": "app3 <-> gw (both ways)", "partition_s": round(healed_at - cut_at, 3),
        "requests": len(results), "failed": sum(1 for r in results if not r[1]),
        "requests_during_cut": len(during),
        "failed_during_cut": sum(1 for r in during if not r[1]),
        "time_to_eject_s": round(ejected_at - cut_at, 3) if ejected_at else None,
        "back_after_heal_s": round(back, 3) if back is not None else None,
        "max_latency_s": round(max((r[2] for r in results), default=0.0), 3),
        "max_latency_during_cut_s": round(max((r[2] for r in during), default=0.0), 3),
    }


def _plot(r: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    tl = r["timeline"]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    bins = [x * 0.25 for x in range(int(min(tl["acked"] + [0]) * 4) - 1,
                                    int(max(tl["acked"] + [tl["heal_s"]]) * 4) + 2)]
    ax.hist(tl["acked"], bins=bins, color="tab:blue", alpha=0.7, label="acknowledged")
    if tl["lost"]:
        ax.hist(tl["lost"], bins=bins, color="red", label="acknowledged, then lost")
    ax.axvline(0, color="black", linestyle="--", linewidth=1)
    ax.axvline(tl["heal_s"], color="black", linestyle="--", linewidth=1)
    ax.axvspan(0, r["node_timeout_s"], color="orange", alpha=0.15,
               label="cluster-node-timeout after the cut")
    ax.annotate("cut", (0, 0.95), xycoords=("data", "axes fraction"), xytext=(3, 0),
                textcoords="offset points", fontsize="small")
    ax.annotate("heal", (tl["heal_s"], 0.95), xycoords=("data", "axes fraction"),
                xytext=(3, 0), textcoords="offset points", fontsize="small")
    ax.set_xlabel("seconds since the partition began")
    ax.set_ylabel("writes per 0.25 s")
    ax.set_title(f"Jepsen set across a partition ({r['mode']})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize="small")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def run(ctx: Context) -> Result:
    node_timeout_ms = 1000 if ctx.quick else 2000
    before, cut, after = (2.0, 4.0, 3.0) if ctx.quick else (3.0, 10.0, 5.0)
    rounds: list[dict[str, Any]] = []
    with HostSystem(apps=3, redis_hosts=6, postgres=False, node_timeout_ms=node_timeout_ms,
                    log=ctx.log) as system:
        for mode in ("plain", "wait"):
            rounds.append(one_round(system, mode, before, cut, after, ctx.log))
            _poll(lambda: _converged(system), 30, 0.2)
        # The gateway's active checks run every 5 s and need 2 failures in a row:
        # a cut shorter than about 10 s ends before the gateway can notice.
        stateless = stateless_round(system, before, 12.0 if ctx.quick else 15.0, after,
                                    ctx.log)
    plain, wait = rounds
    excess = ("" if plain["inside_documented_bound"]
              else f" (the last one {plain['beyond_bound_s']} s after the window closed)")
    rows = [[label, plain[k], wait[k]] for label, k in (
        ("acknowledged writes", "acknowledged"),
        ("acknowledged writes lost", "lost_acknowledged"),
        ("majority side unavailable (s)", "unavailable_s"),
        ("replica promoted (s after the cut)", "promotion_s"),
        ("minority master's last acknowledged write (s after the cut)",
         "minority_master_last_ack_s"),
        ("old master demoted to replica (s after the cut)", "old_master_demoted_s"),
        ("lost writes inside the documented bound", "inside_documented_bound"),
        ("final set size", "final_set_size"))]
    side_rows = [[f"{r['mode']} / {s}", v["writes"], v["acknowledged"], v["failed"],
                  v["not_confirmed_by_wait"], v["lost_acknowledged"],
                  v["indeterminate_present"]]
                 for r in rounds for s, v in r["sides"].items()]
    md = (
        f"Hosts: gateway, 3 app hosts, 6 Redis hosts (one node each), all on one private "
        f"subnet of network namespaces. `cluster-node-timeout` = {node_timeout_ms} ms. "
        f"The victim master's host and `app1` are cut off from every other host (packets "
        f"dropped on arrival, both ways) for {cut:.0f} s, then healed. A client on `app1` "
        f"(minority side) and one on `app2` (majority side) add unique elements to one set "
        f"in the victim's slots; every acknowledged element is then looked for in the set.\n\n"
        + md_table(["", "plain SADD", "SADD + WAIT 1"], rows)
        + "\n\nPer client:\n\n"
        + md_table(["round / side", "writes", "acknowledged", "failed",
                    "not confirmed by WAIT", "acknowledged, lost", "unacknowledged, present"],
                   side_rows)
        + f"\n\n**The documented bound.** The Redis Cluster specification (\"Write safety\") "
        f"says a master on the minority side keeps accepting writes until "
        f"`cluster-node-timeout` has passed without it reaching the majority, and those "
        f"writes are lost when it rejoins: here the window is {node_timeout_ms / 1000:g} s "
        f"after the cut. Plain: lost writes acknowledged between "
        f"{plain['lost_acked_between_s']} s after the cut; inside the bound: "
        f"{'yes' if plain['inside_documented_bound'] else 'no'}"
        f"{excess}"
        f"; inside what the failure detector allows (1.5 × node timeout + 2 cron "
        f"ticks = {plain['detector_window_s']} s): "
        f"{'yes' if plain['inside_detector_window'] else 'no'}. With WAIT 1: "
        f"{wait['lost_acknowledged']} lost (WAIT cannot be satisfied on the minority side, "
        f"whose master's replica is across the cut; it does not make Redis strongly "
        f"consistent in general).\n\n"
        f"With WAIT 1 the majority side was unavailable for {wait['unavailable_s']} s of "
        f"the {wait['partition_s']} s cut (plain: {plain['unavailable_s']} s): after the "
        f"promotion the new master's only replica-to-be is the old master, across the cut, "
        f"so no write can be confirmed until the partition heals and the old master has "
        f"rejoined as its replica ({wait['old_master_demoted_s']} s after the cut). "
        f"Consistency is bought with availability.\n\n"
        f"**Stateless.** `app3` cut off from the gateway for {stateless['partition_s']:.1f} s "
        f"under 4 sequential clients: {stateless['failed']} of {stateless['requests']} "
        f"requests failed, the gateway marked it not healthy "
        f"{stateless['time_to_eject_s']} s after the cut and took it back "
        f"{stateless['back_after_heal_s']} s after healing; slowest request "
        f"{stateless['max_latency_during_cut_s']} s (requests already sent to app3 wait for "
        f"the connection to time out or the cut to heal).\n"
    )
    plots = {f"partition_{r['mode']}.png": _plot(r) for r in rounds}
    data = {"modes": {r["mode"]: r for r in rounds}, "stateless": stateless,
            "node_timeout_s": node_timeout_ms / 1000}
    # data.json keeps the per-write timeline only as the plot's inputs: small enough.
    headline = {
        "partition_s": plain["partition_s"], "node_timeout_s": node_timeout_ms / 1000,
        "lost_plain": plain["lost_acknowledged"], "acked_plain": plain["acknowledged"],
        "lost_wait": wait["lost_acknowledged"], "acked_wait": wait["acknowledged"],
        "inside_bound": plain["inside_documented_bound"],
        "stateless_failed": stateless["failed"],
        "stateless_requests": stateless["requests"],
        "time_to_eject_s": stateless["time_to_eject_s"],
    }
    return Result("partition", "Partition: a Redis master and an app host cut off (Jepsen set)",
                  data, headline, md, plots)
