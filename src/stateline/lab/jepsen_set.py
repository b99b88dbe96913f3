"""Checking a Jepsen "set" history: which acknowledged elements did the final set lose?

Pure (no Redis, no clock): the partition experiment hands it what its clients
logged (:mod:`stateline.lab.setwriter`), the set read back after healing, and
when the cut began and ended; it returns the figures. An element counts as
*acknowledged* only if its client was told so (with ``WAIT 1``: once a replica
confirmed it); an unacknowledged element found in the set was indeterminate,
which is no error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stateline.lab.metrics import unavailability_window

#: clusterCron's period in redis-server (10 Hz).
CRON_S = 0.1


def detector_window_s(node_timeout_s: float) -> float:
    """How long a minority master can go on accepting writes, by how failures are detected.

    The documented bound is ``node_timeout``; the detector adds to it: a peer
    is pinged only once its last pong is ``node_timeout / 2`` old, marked
    PFAIL ``node_timeout`` after that ping, and both are checked by
    ``clusterCron`` every 100 ms. So the last write a cut-off master can accept
    comes up to ``1.5 * node_timeout`` plus two cron ticks after the cut.
    """
    return round(1.5 * node_timeout_s + 2 * CRON_S, 3)


def analyse(records: Mapping[str, Sequence[Mapping[str, Any]]], final: set[str],
            cut_at: float, healed_at: float, node_timeout_s: float,
            majority: str = "majority", minority: str = "minority") -> dict[str, Any]:
    """Figures of one round; ``records[side]`` are ``{"e", "t", "ok", "acked"}`` in time order."""
    def rel(t: float) -> float:
        return round(t - cut_at, 3)

    sides: dict[str, Any] = {}
    lost_all: list[Mapping[str, Any]] = []
    for s, recs in records.items():
        acked = [r for r in recs if r["acked"]]
        lost = [r for r in acked if r["e"] not in final]
        lost_all += lost
        sides[s] = {
            "writes": len(recs), "acknowledged": len(acked), "lost_acknowledged": len(lost),
            "failed": sum(1 for r in recs if not r["ok"]),
            "not_confirmed_by_wait": sum(1 for r in recs if r["ok"] and not r["acked"]),
            "indeterminate_present": sum(1 for r in recs if not r["acked"] and r["e"] in final),
            "unavailable_s": unavailability_window([(r["t"], r["acked"]) for r in recs],
                                                   cut_at)["window_s"],
            "last_ack_before_heal_s": max((rel(r["t"]) for r in acked
                                           if cut_at <= r["t"] < healed_at), default=None),
        }
    lost_times = sorted(rel(r["t"]) for r in lost_all)
    detector = detector_window_s(node_timeout_s)
    beyond = round(lost_times[-1] - node_timeout_s, 3) if lost_times else 0.0
    return {
        "node_timeout_s": node_timeout_s,
        "partition_s": round(healed_at - cut_at, 3),
        "acknowledged": sum(v["acknowledged"] for v in sides.values()),
        "lost_acknowledged": len(lost_all),
        "unavailable_s": sides[majority]["unavailable_s"] if majority in sides else None,
        "minority_master_last_ack_s": (sides[minority]["last_ack_before_heal_s"]
                                       if minority in sides else None),
        "lost_acked_between_s": [lost_times[0], lost_times[-1]] if lost_times else None,
        "inside_documented_bound": all(t <= node_timeout_s for t in lost_times),
        "beyond_bound_s": max(0.0, beyond),
        "detector_window_s": detector,
        "inside_detector_window": all(t <= detector for t in lost_times),
        "final_set_size": len(final),
        "sides": sides,
        "lost_sample": [r["e"] for r in lost_all[:10]],
        "timeline": {
            "acked": [rel(r["t"]) for recs in records.values() for r in recs if r["acked"]],
            "lost": lost_times,
            "heal_s": rel(healed_at),
        },
    }
