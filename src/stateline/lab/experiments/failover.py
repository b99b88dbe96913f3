"""Failover (stateless tier): SIGKILL an app instance under load, then drain one away.

Steady open-loop load through the gateway over 3 instances. A third of the
way in, ``app-2`` is SIGKILLed (the supervisor restarts it); two thirds in, the
pool is scaled down by one, which drains an instance. Any instance can serve
any request, so the seed's claim is that both cost nothing: the goal is 0
failed requests. Measured: requests, failed (by kind), the p99 spike after the
kill, time until every instance serves its share again, and errors during the
drain.
"""

from __future__ import annotations

import time
from typing import Any

from stateline.lab import plots
from stateline.lab.background import Background
from stateline.lab.experiments.base import Context, Result, md_table
from stateline.lab.faults import FaultSchedule, failover_schedule
from stateline.lab.loadgen import LoadConfig
from stateline.lab.metrics import latency_spike, time_to_full_capacity
from stateline.lab.mix import parse_mix
from stateline.lab.system import System

#: Stateless, idempotent reads: what the stateless tier serves.
MIX = {
    "users": 1000,
    "requests": [
        {"name": "calc", "weight": 5, "path": "/api/calc/add?a={rand:1000}&b={rand:1000}"},
        {"name": "currency", "weight": 3,
         "path": "/api/currency/convert?amount={rand:1:1000}&from=EUR&to=USD"},
        {"name": "cart-view", "weight": 2, "path": "/api/carts/{user}"},
    ],
}
APPS = 3


#: What to see in timeline.png (printed under it).
CAPTION = ("After the SIGKILL the survivors take the killed instance's share within a "
           "second or so and p99 settles back; the drain costs no errors.")


def perform(system: System, load: Background, schedule: FaultSchedule,
            log: Any) -> list[dict[str, Any]]:
    """Carry out the schedule on the load's clock; returns what was done, when."""
    done: list[dict[str, Any]] = []
    while not schedule.finished:
        nxt = schedule.next_at()
        assert nxt is not None
        wait = nxt - load.now()
        if wait > 0:
            time.sleep(min(wait, 0.05))
            continue
        for fault in schedule.due(load.now()):
            at = load.now()
            if fault.action == "kill":
                assert fault.target is not None
                reply = system.kill(fault.target)
                log(f"t={at:.1f}s SIGKILL {fault.target} (pid {reply.get('pid')})")
            elif fault.action == "scale":
                assert fault.apps is not None
                system.scale(fault.apps)
                log(f"t={at:.1f}s scale apps to {fault.apps}")
            done.append({**fault.to_json(), "done_at": round(at, 3),
                         "returned_at": round(load.now(), 3)})
    return done


def run(ctx: Context) -> Result:
    duration = 24.0 if ctx.quick else 60.0
    rate = 200.0 if ctx.quick else 400.0
    schedule = failover_schedule(duration, APPS)
    with System(APPS, ctx.log) as system:
        config = LoadConfig(system.gateway_url, rate=rate, duration=duration, timeout=5.0,
                            mix=parse_mix(MIX), resolution=0.25, seed=1,
                            label="load with a SIGKILL and a drain")
        ctx.log(f"failover: {rate:g} req/s for {duration:g}s over {APPS} instances; "
                + "; ".join(f.describe() for f in schedule.faults))
        load = Background(config).start()
        actions = perform(system, load, FaultSchedule(list(schedule.faults)), ctx.log)
        result = load.join()
        after = system.processes("app")
    teardown = system.teardown
    kill = next(a for a in actions if a["action"] == "kill")
    scale = next(a for a in actions if a["action"] == "scale")
    timeline = result["timeline"]
    spike = latency_spike(timeline, kill["done_at"], window=3.0)
    recovery = time_to_full_capacity(
        [b for b in timeline if b["t"] < scale["done_at"]], kill["done_at"],
        [f"app-{i}" for i in range(1, APPS + 1)])
    drain_errors = sum(b["errors"] for b in timeline if b["t"] >= scale["done_at"])
    kill_errors = sum(b["errors"] for b in timeline
                      if kill["done_at"] <= b["t"] < scale["done_at"])
    data = {
        "requests": int(result["requests"]),
        "failed": int(result["failed"]),
        "errors": result["errors"],
        "rate": rate,
        "duration_s": duration,
        "apps": APPS,
        "faults": actions,
        "failed_after_kill": kill_errors,
        "failed_during_drain": drain_errors,
        "latency_spike": spike,
        "time_to_full_capacity_s": recovery,
        "apps_after": [{"id": p["id"], "state": p.get("state"), "restarts": p.get("restarts")}
                       for p in after],
        "teardown": teardown,
        "load": {k: v for k, v in result.items() if k != "histogram"},
    }
    lat = result["latency"]
    rows = [
        ["requests", f"{data['requests']:,}"],
        ["failed", f"{data['failed']:,}" + (f" ({result['errors']})" if result["errors"] else "")],
        ["failed after the SIGKILL", kill_errors],
        ["failed during the drain (scale 3 → 2)", drain_errors],
        ["p50 / p99 / max over the run", f"{lat['p50_ms']} / {lat['p99_ms']} / {lat['max_ms']} ms"],
        ["p99 before the kill → peak p99 in the 3 s after",
         f"{spike['baseline_p99_ms']} → {spike['peak_p99_ms']} ms"],
        ["time back to full capacity (all 3 serving ≥ half their share)",
         f"{recovery} s" if recovery is not None else "not within the run"],
        ["processes left after Ctrl-C", teardown.get("leftover_processes")],
    ]
    md = (
        f"Open-loop load at {rate:g} req/s for {duration:g} s through the gateway over "
        f"{APPS} app instances (mix: calc, currency, cart reads). Faults: "
        + "; ".join(f"t={a['done_at']:.1f}s {a['action']} {a['target'] or a['apps']}"
                    for a in actions)
        + ".\n\n" + md_table(["figure", "value"], rows) + "\n\n"
        "Latency counts from the intended send time (open loop), so a stall shows in full. "
        "Time back to full capacity is measured in 0.25 s buckets.\n"
    )
    marks = [(a["done_at"], f"{a['action']} {a['target'] or a['apps']}") for a in actions]
    png = plots.timeline(result, marks, "failover: SIGKILL app-2, then drain one instance",
                         caption=CAPTION)
    headline = {
        "requests": data["requests"],
        "failed": data["failed"],
        "failed_during_drain": drain_errors,
        "peak_p99_ms": spike["peak_p99_ms"],
        "baseline_p99_ms": spike["baseline_p99_ms"],
        "time_to_full_capacity_s": recovery,
    }
    return Result("failover", "Failover of a stateless app instance", data, headline, md,
                  {"timeline.png": png}, {"timeline.png": CAPTION})
