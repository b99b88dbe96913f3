"""Figures extracted from raw experiment data: pure functions, unit-tested on synthetic data.

Every experiment records plain data (a load timeline, per-key owners, write
outcomes with timestamps); the numbers its report prints come from here, so
the definitions live in one place and can be checked without a running system.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from typing import Any


def coefficient_of_variation(counts: Sequence[float]) -> float:
    """Population standard deviation over mean: 0 is a perfectly even spread."""
    if not counts:
        return 0.0
    mean = sum(counts) / len(counts)
    if mean == 0:
        return 0.0
    return statistics.pstdev(counts) / mean


def fraction_moved(before: Mapping[Hashable, Any], after: Mapping[Hashable, Any]) -> float:
    """Share of the keys of ``before`` whose owner differs in ``after``."""
    if not before:
        return 0.0
    moved = sum(1 for k, owner in before.items() if after.get(k) != owner)
    return moved / len(before)


def _at_or_after(timeline: Sequence[Mapping[str, Any]], t: float) -> list[Mapping[str, Any]]:
    return [b for b in timeline if b["t"] >= t]


def latency_spike(timeline: Sequence[Mapping[str, Any]], fault_at: float,
                  window: float = 5.0) -> dict[str, float]:
    """The p99 around a fault: baseline (median of the buckets before it) and peak after.

    ``timeline`` is a load result's ``timeline`` (buckets with ``t`` and
    ``p99_ms``); empty buckets are ignored.
    """
    before = [b["p99_ms"] for b in timeline if b["t"] < fault_at and b["requests"]]
    after = [b["p99_ms"] for b in timeline
             if fault_at <= b["t"] < fault_at + window and b["requests"]]
    baseline = statistics.median(before) if before else 0.0
    peak = max(after) if after else 0.0
    return {
        "baseline_p99_ms": round(baseline, 3),
        "peak_p99_ms": round(peak, 3),
        "spike_ratio": round(peak / baseline, 2) if baseline > 0 else 0.0,
    }


def time_to_full_capacity(timeline: Sequence[Mapping[str, Any]], fault_at: float,
                          instances: Sequence[str], share: float = 0.5) -> float | None:
    """Seconds from a fault until every instance serves again, and keeps serving.

    "Serves" means at least ``share`` of its fair part (requests / number of
    instances) in a timeline bucket. The answer is the start of the first
    bucket after the fault from which all later buckets (with traffic)
    qualify; ``None`` if capacity never came back within the run.
    """
    buckets = [b for b in _at_or_after(timeline, fault_at) if b["requests"]]
    if not instances:
        return 0.0
    recovered_at: float | None = None
    for b in buckets:
        fair = b["requests"] / len(instances)
        full = all(b["instances"].get(i, 0) >= share * fair for i in instances)
        if full and recovered_at is None:
            recovered_at = b["t"]
        elif not full:
            recovered_at = None
    if recovered_at is None:
        return None
    return round(max(0.0, recovered_at - fault_at), 3)


def unavailability_window(outcomes: Sequence[tuple[float, bool]],
                          after: float = 0.0) -> dict[str, float | int]:
    """How long writes failed: from the first failure after ``after`` to the next success.

    ``outcomes`` are (time, ok) pairs in time order. The window ends at the
    first success that follows the *last* failure, so a flapping period counts
    as one window.
    """
    failures = [t for t, ok in outcomes if not ok and t >= after]
    if not failures:
        return {"window_s": 0.0, "failed": 0, "first_failure_s": -1.0}
    first, last = failures[0], failures[-1]
    next_ok = next((t for t, ok in outcomes if ok and t > last), last)
    return {
        "window_s": round(next_ok - first, 3),
        "failed": len(failures),
        "first_failure_s": round(first - after, 3),
    }


def scaling_efficiency(throughput: Mapping[int, float]) -> dict[int, float]:
    """Throughput with N instances over N times the throughput with one (1.0 = linear)."""
    base = throughput.get(1)
    if not base:
        return {n: 0.0 for n in throughput}
    return {n: round(t / (n * base), 3) for n, t in sorted(throughput.items())}


def knee(throughput: Mapping[int, float], tolerance: float = 0.1) -> int:
    """The instance count after which adding one gains less than ``tolerance`` of the last."""
    ns = sorted(throughput)
    for a, b in itertools.pairwise(ns):
        if throughput[a] > 0 and (throughput[b] - throughput[a]) / throughput[a] < tolerance:
            return a
    return ns[-1] if ns else 0


def percent(x: float) -> str:
    """0.2534 → '25.3 %' (reports print shares this way)."""
    if math.isnan(x):
        return "n/a"
    return f"{x * 100:.1f} %"
