"""Scaling: throughput and p99 against the number of app instances (1..N).

Two workloads, each closed loop through the gateway: a CPU-bound one (image
resize, Pillow) and a store-bound one (cart reads and writes, Redis). The pool
is grown with the supervisor's ``scale`` between points, so everything else
(gateway, Redis, the load generator) stays the same process throughout.

On one machine the curve cannot rise past the cores it has: instances, the
gateway, Redis and the load generator all share them. The report states the
core count measured with ``os.sched_getaffinity`` and where the curve flattened,
instead of pretending to a linear line.
"""

from __future__ import annotations

import time
from typing import Any

from stateline.lab import plots
from stateline.lab.experiments.base import Context, Result, cores, md_table
from stateline.lab.loadgen import LoadConfig, run_load
from stateline.lab.metrics import knee, scaling_efficiency
from stateline.lab.mix import parse_mix
from stateline.lab.system import System, SystemFailure

#: Connections per instance for each workload. The CPU-bound one stays below the app's
#: CPU pool queue limit (beyond it the app sheds load with 503 "busy", which would
#: measure the shedding, not the scaling).
CONNECTIONS_PER_INSTANCE = {"image resize (CPU-bound)": 4, "cart (store-bound)": 8}
WORKLOADS: dict[str, dict[str, Any]] = {
    "image resize (CPU-bound)": {"requests": [
        {"name": "resize", "method": "POST", "path": "/api/images/resize?width=64&height=64",
         "png": [256, 256]}]},
    "cart (store-bound)": {"users": 1000, "requests": [
        {"name": "cart-view", "weight": 3, "path": "/api/carts/{user}"},
        {"name": "cart-add", "weight": 1, "method": "POST", "path": "/api/carts/{user}/items",
         "json": {"sku": "sku-{rand:50}", "qty": 1}}]},
}


#: What to see in each plot (printed under it).
CAPTIONS = {
    "throughput.png": "Throughput climbs with instances until the cores (dashed line) run "
                      "out; past it the curve flattens: the machine, not the design, is the "
                      "limit.",
    "p99.png": "p99 stays flat while instances have cores to run on and rises once they "
               "share them.",
}


def _cores(point: dict[str, Any]) -> str:
    """``app 1.9 · gateway 0.8 · redis 0.2 · lab 0.6`` for the table."""
    used = point.get("cores_used", {})
    return " · ".join(f"{k} {used[k]:.1f}" for k in ("app", "gateway", "redis", "lab")
                      if k in used)


def wait_serving(system: System, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if system.serving_instances(probes=4 * n + 4) >= n:
            return
        time.sleep(0.5)
    raise SystemFailure(f"the gateway did not reach {n} serving instances in {timeout:.0f}s")


def run(ctx: Context) -> Result:
    n_cores = cores()
    max_n = ctx.max_instances or (n_cores + 1 if ctx.quick else n_cores + 2)
    seconds = 4.0 if ctx.quick else 10.0
    points: dict[str, dict[int, dict[str, Any]]] = {w: {} for w in WORKLOADS}
    stopped: str | None = None
    with System(1, ctx.log) as system:
        for n in range(1, max_n + 1):
            if n > 1:
                try:
                    system.scale(n)
                    wait_serving(system, n)
                except SystemFailure as exc:  # report the points measured so far
                    ctx.log(f"scaling: stopped at {n - 1} instance(s): {exc}")
                    stopped = f"stopped before {n} instances: {exc}"
                    break
            for name, mix in WORKLOADS.items():
                config = LoadConfig(system.gateway_url,
                                    connections=CONNECTIONS_PER_INSTANCE[name] * n,
                                    duration=seconds, mix=parse_mix(mix), seed=n,
                                    label=f"{n} instance(s), {name}")
                before = system.cpu_seconds()
                r = run_load(config)
                after = system.cpu_seconds()
                cpu = {role: round((after.get(role, 0.0) - used) / r["duration_s"], 2)
                       for role, used in before.items()}
                goodput = round(r["ok"] / r["duration_s"], 1)
                points[name][n] = {"throughput_rps": goodput,
                                   "connections": config.n_connections,
                                   "p99_ms": r["latency"]["p99_ms"],
                                   "p50_ms": r["latency"]["p50_ms"], "failed": r["failed"],
                                   "errors": r["errors"], "instances": r["instances"],
                                   "cores_used": cpu}
                ctx.log(f"scaling: {n} instance(s), {name}: {goodput:,.0f} ok/s, "
                        f"p99 {r['latency']['p99_ms']:.1f} ms, {r['failed']} failed; cores used "
                        + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    ns = sorted(next(iter(points.values())))
    max_n = ns[-1]
    eff = {w: scaling_efficiency({n: p[n]["throughput_rps"] for n in ns})
           for w, p in points.items()}
    knees = {w: knee({n: p[n]["throughput_rps"] for n in ns}) for w, p in points.items()}
    cpu, store = list(WORKLOADS)

    def flat(w: str) -> str:
        if knees[w] >= max_n:
            return f"still rising at {max_n} instance(s)"
        return f"flat after {knees[w]} instance(s)"

    rows = [[n, f"{points[cpu][n]['throughput_rps']:,.0f}", f"{points[cpu][n]['p99_ms']:.1f}",
             f"{eff[cpu][n]:.2f}", _cores(points[cpu][n]),
             f"{points[store][n]['throughput_rps']:,.0f}",
             f"{points[store][n]['p99_ms']:.1f}", f"{eff[store][n]:.2f}",
             _cores(points[store][n])] for n in ns]
    md = (
        f"Closed loop through the gateway, {seconds:g} s per point, with 4 (resize) and 8 "
        f"(cart) connections per instance; the pool is scaled 1 → {max_n} with the "
        "supervisor. Throughput counts successful responses only.\n\n"
        + md_table(["instances", "resize req/s", "resize p99 ms", "resize efficiency",
                    "resize cores used", "cart req/s", "cart p99 ms", "cart efficiency",
                    "cart cores used"], rows)
        + f"\n\n**This machine has {n_cores} core(s)** (`os.sched_getaffinity`). App "
        "instances, the gateway, Redis and the load generator all share them, so the curve "
        f"cannot keep rising past {n_cores} instance(s). Measured: {flat(cpu)} for the "
        f"CPU-bound resize, {flat(store)} for the store-bound cart (flat = one more instance "
        "adds less than 10 %). An app instance resizes on a small thread pool (Pillow "
        "releases the GIL), so even one instance can use more than one core. On a machine "
        "with more cores the same command measures further along the curve (`--max-instances`). "
        "Efficiency = throughput(N) / (N × throughput(1)). Cores used: CPU seconds per "
        "second of each tier during the point (app = all instances together, lab = the load "
        "generator); a tier near a whole core it cannot spread over (the one gateway "
        "process, the one load generator process) is the next bottleneck.\n"
    )
    png_t = plots.lines(ns, {w: [points[w][n]["throughput_rps"] for n in ns] for w in WORKLOADS},
                        "app instances", "requests/s", "Throughput vs instances",
                        vline=(n_cores, f"{n_cores} cores"), caption=CAPTIONS["throughput.png"])
    png_p = plots.lines(ns, {w: [points[w][n]["p99_ms"] for n in ns] for w in WORKLOADS},
                        "app instances", "p99 latency (ms)", "p99 vs instances",
                        vline=(n_cores, f"{n_cores} cores"), caption=CAPTIONS["p99.png"])
    headline = {
        "cores": n_cores, "max_instances": max_n,
        "cpu_rps_1": points[cpu][1]["throughput_rps"],
        "cpu_rps_max": max(points[cpu][n]["throughput_rps"] for n in ns),
        "cpu_efficiency_max": eff[cpu][max_n],
        "store_rps_1": points[store][1]["throughput_rps"],
        "store_rps_max": max(points[store][n]["throughput_rps"] for n in ns),
        "knee": knees[cpu],
        "failed": sum(points[w][n]["failed"] for w in WORKLOADS for n in ns),
    }
    data = {"cores": n_cores, "connections_per_instance": CONNECTIONS_PER_INSTANCE,
            "seconds_per_point": seconds,
            "points": {w: {str(n): v for n, v in p.items()} for w, p in points.items()},
            "efficiency": {w: {str(n): v for n, v in e.items()} for w, e in eff.items()},
            "knee": knees, "stopped": stopped, "teardown": system.teardown}
    return Result("scaling", "Scaling: throughput and p99 vs app instances", data, headline,
                  md, {"throughput.png": png_t, "p99.png": png_p}, dict(CAPTIONS))
