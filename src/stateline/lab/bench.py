"""``stateline bench``: run a load, show it live, print the figures.

A thin shell around :mod:`stateline.lab.loadgen`: a rich progress bar on
stderr while the load runs (so ``--json`` on stdout stays clean), then a table.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from stateline.lab.loadgen import LoadConfig, LoadGenerator, run_load


def run_bench(config: LoadConfig, as_json: bool, progress: bool = True) -> dict[str, Any]:
    """Run ``config``; print a table (or JSON) on stdout; return the results."""
    err = Console(file=sys.stderr)
    if progress and err.is_terminal:
        bar = Progress(
            TextColumn("[bold]bench"), BarColumn(), TextColumn("{task.description}"),
            TimeRemainingColumn(), console=err, transient=True,
        )
        task = bar.add_task("starting", total=config.duration)

        def tick(gen: LoadGenerator) -> None:
            now = gen._now()
            r = gen.recorder.recent(now)
            bar.update(task, completed=min(now, config.duration), description=(
                f"{r['rate']:,.0f} req/s  errors {r['errors']:,}  p99 {r['p99_ms']:.2f} ms"))

        with bar:
            result = run_load(config, tick)
    else:
        result = run_load(config)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        Console().print(summary_table(result))
    return result


def summary_table(result: dict[str, Any]) -> Table:
    """The end-of-run table: throughput, latency percentiles, errors, instances."""
    mode = (f"open loop, {result['rate']:g} req/s ({result['spacing']})"
            if result["mode"] == "open" else f"closed loop, {result['connections']} connections")
    table = Table(title=f"{result['url']}  ·  {mode}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("requests", f"{result['requests']:,} in {result['duration_s']:.1f} s")
    table.add_row("throughput", f"{result['throughput_rps']:,.0f} req/s")
    lat = result["latency"]
    for key, label in (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99"),
                       ("p999_ms", "p99.9"), ("max_ms", "max")):
        table.add_row(f"latency {label}", f"{lat[key]:.2f} ms")
    table.add_row("failed", f"{result['failed']:,}")
    for kind, n in result["errors"].items():
        table.add_row(f"  {kind}", f"{n:,}")
    keyed = result.get("idempotency")
    if keyed:
        table.add_row("keyed writes", f"{keyed['keyed']:,}")
        table.add_row("  repeated (same key)", f"{keyed['repeats']:,}")
        table.add_row("  replayed", f"{keyed['replays']:,}")
        table.add_row("  duplicates (applied again)", f"{keyed['duplicates']:,}")
    for instance, n in result["instances"].items():
        share = n / max(1, result["requests"])
        table.add_row(f"served by {instance}", f"{n:,} ({share:.0%})")
    return table
