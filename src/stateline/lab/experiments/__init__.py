"""The experiments behind ``stateline experiment NAME``, one module each.

Each module has ``run(ctx: Context) -> Result``; they are imported only when
run, so listing them costs nothing.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path

from stateline.lab.experiments.base import Context, Result, write_result

#: name → (module, one line for --help); the order is the report's order.
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "failover": ("failover", "SIGKILL an app instance under load, then drain one (stateless)"),
    "scaling": ("scaling", "throughput and p99 versus number of app instances"),
    "stateful-failover": ("stateful_failover",
                          "SIGKILL a Redis master under writes: window, failures, lost writes"),
    "routing": ("routing", "keys moved and load spread when a pool grows 3 → 4"),
    "accidental-state": ("accidental_state", "in-process counter vs Redis INCR, 3 instances"),
    "resharding": ("resharding", "move slots between Redis masters under load: MOVED/ASK"),
    "stateful-shard": ("stateful_shard",
                       "in-memory rooms shards vs Redis players: speed, SIGKILL, 3 → 4"),
    "exactly-once": ("exactly_once",
                     "retried writes with and without Idempotency-Key while instances die"),
    "partition": ("partition", "cut a Redis master and an app host off (Jepsen set; needs root)"),
}


def runner(name: str) -> Callable[[Context], Result]:
    if name not in EXPERIMENTS:
        raise KeyError(name)
    module = importlib.import_module(f"stateline.lab.experiments.{EXPERIMENTS[name][0]}")
    return module.run  # type: ignore[no-any-return]


def run_experiment(name: str, ctx: Context) -> Path:
    """Run one experiment and write its results; returns the result folder."""
    started = time.monotonic()
    result = runner(name)(ctx)
    return write_result(result, ctx.out, ctx.quick, started)


__all__ = ["EXPERIMENTS", "Context", "Result", "run_experiment", "runner"]
