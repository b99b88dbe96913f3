"""Accidental state: the seed's in-memory counter against Redis INCR, through the gateway.

1,000 increments each, sent one after another through the round-robin gateway
to 3 instances: ``POST /api/demo/local-counter`` (a module-level counter in the
app process: the seed's "BAD" example) and ``POST /api/counter/incr`` (Redis
``INCR``: the "GOOD" one). Then ``stateline up`` is restarted on the same data
dir and both counters are read again. Divergence is how far the highest value a
client was told lies from the number of increments actually made.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from stateline.lab import plots
from stateline.lab.experiments.base import Context, Result, md_table
from stateline.lab.system import System

APPS = 3
INCREMENTS = 1000


#: What to see in counters.png (printed under it).
CAPTION = ("Redis INCR matches the true count and survives the restart; the in-process "
           "counter falls short of it and is back at 0 after the restart.")


def increments(client: Any, path: str, n: int) -> list[tuple[int, str]]:
    """``n`` POSTs to ``path``; (value answered, instance) for each, failures as (-1, '')."""
    out: list[tuple[int, str]] = []
    for _ in range(n):
        status, headers, body = client.request("POST", path)
        if status == 200 and isinstance(body, dict):
            out.append((int(body["value"]), headers.get("x-served-by", "?")))
        else:
            out.append((-1, ""))
    return out


def summarize(values: list[tuple[int, str]], start: int) -> dict[str, Any]:
    """Pure: what a list of answered counter values says about the count."""
    ok = [v for v, _ in values if v >= 0]
    per_instance: dict[str, int] = defaultdict(int)
    for v, inst in values:
        if v >= 0:
            per_instance[inst] = max(per_instance[inst], v)
    highest = max(ok) - start if ok else 0
    return {
        "sent": len(values),
        "failed": len(values) - len(ok),
        "highest": highest,
        "divergence": len(values) - highest,
        "distinct_values": len(set(ok)),
        "repeated_values": len(ok) - len(set(ok)),
        "highest_per_instance": dict(sorted(per_instance.items())),
    }


def run(ctx: Context) -> Result:
    n = INCREMENTS
    with System(APPS, ctx.log) as system:
        client = system.client()
        status, _, body = client.request("GET", "/api/counter")
        redis_start = int(body["value"]) if status == 200 else 0
        ctx.log(f"accidental-state: {n} increments of each counter through {APPS} instances")
        redis_values = increments(client, "/api/counter/incr", n)
        local_values = increments(client, "/api/demo/local-counter", n)
        client.close()
        ctx.log("accidental-state: restarting `stateline up` on the same data dir")
        system.restart()
        client = system.client()
        _, _, body = client.request("GET", "/api/counter")
        redis_after = int(body["value"]) - redis_start
        _, _, body = client.request("POST", "/api/demo/local-counter")
        local_after = int(body["value"]) - 1  # what survived: the count before this call
        client.close()
    redis = summarize(redis_values, redis_start)
    local = summarize(local_values, 0)
    data = {"increments": n, "apps": APPS, "redis": redis, "local": local,
            "redis_after_restart": redis_after, "local_after_restart": local_after,
            "teardown": system.teardown}
    rows = [
        ["highest value a client saw", f"{redis['highest']:,}", f"{local['highest']:,}"],
        ["divergence from the true count", redis["divergence"], local["divergence"]],
        ["values handed out twice", redis["repeated_values"], local["repeated_values"]],
        ["highest value per instance", "one counter", ", ".join(
            f"{k}: {v}" for k, v in local["highest_per_instance"].items())],
        ["count after restarting `stateline up`", f"{redis_after:,}", f"{local_after:,}"],
        ["failed requests", redis["failed"], local["failed"]],
    ]
    md = (
        f"{n:,} increments of each counter, one after another, through the round-robin "
        f"gateway to {APPS} app instances; then `stateline up` is stopped (Ctrl-C) and "
        "started again on the same data dir.\n\n"
        + md_table(["", "Redis INCR (`/api/counter/incr`)",
                    "in-process (`/api/demo/local-counter`)"], rows)
        + "\n\nThe in-process counter is the seed's accidental state: each instance counts "
        "its own third, clients are told the same numbers several times, and a restart "
        "forgets everything. The Redis counter is exact and survives the restart (AOF).\n"
    )
    png = plots.bars(["true count", "Redis INCR", "in-process (highest seen)",
                      "Redis after restart", "in-process after restart"],
                     {"value": [n, redis["highest"], local["highest"], redis_after,
                                local_after]},
                     "counter value", f"{n:,} increments through {APPS} instances",
                     caption=CAPTION)
    headline = {"increments": n, "redis_final": redis["highest"],
                "redis_divergence": redis["divergence"], "local_max": local["highest"],
                "local_divergence": local["divergence"], "redis_after_restart": redis_after,
                "local_after_restart": local_after}
    return Result("accidental-state", "Accidental state: in-process counter vs Redis INCR",
                  data, headline, md, {"counters.png": png},
                  {"counters.png": CAPTION})
