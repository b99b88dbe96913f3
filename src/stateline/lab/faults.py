"""Fault schedules: what an experiment does to the system, and when. Pure.

An experiment describes its faults as data (kill ``app-2`` at 10 s, scale to
2 apps at 20 s), so the schedule can be printed in the report, unit-tested, and
shortened for ``--quick`` without touching the code that performs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("kill", "scale", "mark")


@dataclass(frozen=True)
class Fault:
    """One action at ``at`` seconds after the load starts."""

    at: float
    action: str  # "kill" (target id) | "scale" (apps=N) | "mark" (a note only)
    target: str | None = None
    apps: int | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}")
        if self.at < 0:
            raise ValueError("a fault cannot happen before the start")
        if self.action == "kill" and not self.target:
            raise ValueError("kill needs a target id")
        if self.action == "scale" and (self.apps is None or self.apps < 1):
            raise ValueError("scale needs apps >= 1")

    def describe(self) -> str:
        if self.action == "kill":
            return f"t={self.at:g}s SIGKILL {self.target}"
        if self.action == "scale":
            return f"t={self.at:g}s scale apps to {self.apps} (drain)"
        return f"t={self.at:g}s {self.target or 'mark'}"

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "action": self.action, "target": self.target, "apps": self.apps}


@dataclass
class FaultSchedule:
    """Faults in time order; :meth:`due` hands each out once."""

    faults: list[Fault]
    _next: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.faults = sorted(self.faults, key=lambda f: f.at)

    def due(self, now: float) -> list[Fault]:
        out: list[Fault] = []
        while self._next < len(self.faults) and self.faults[self._next].at <= now:
            out.append(self.faults[self._next])
            self._next += 1
        return out

    @property
    def finished(self) -> bool:
        return self._next >= len(self.faults)

    def next_at(self) -> float | None:
        return self.faults[self._next].at if not self.finished else None

    def first(self, action: str) -> Fault | None:
        return next((f for f in self.faults if f.action == action), None)


def failover_schedule(duration: float, apps: int, victim: str = "app-2") -> FaultSchedule:
    """Kill one instance a third of the way in; drain one away at two thirds."""
    return FaultSchedule([
        Fault(round(duration / 3, 1), "kill", victim),
        Fault(round(2 * duration / 3, 1), "scale", apps=max(1, apps - 1)),
    ])
