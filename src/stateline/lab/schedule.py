"""When an open-loop generator sends: the intended send times, computed up front.

Open loop means arrivals do not wait for answers (a stalled server does not
slow the clients down, as real users do not politely wait for each other).
Latency is then measured from the *intended* send time, so a request that had
to queue behind a stall carries that wait in its latency: that is what keeps
coordinated omission from hiding the stall (Gil Tene's argument, and wrk2's
fix of wrk).

Pure: no clock, no I/O. The generator asks :meth:`Schedule.due` for every
intended time up to "now" and sends them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SPACINGS = ("constant", "poisson")


@dataclass
class Schedule:
    """Intended send times (seconds from the start) at ``rate`` per second for ``duration``."""

    rate: float
    duration: float
    spacing: str = "constant"
    seed: int | None = None
    _next: float = field(default=0.0, init=False)
    _sent: int = field(default=0, init=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.spacing not in SPACINGS:
            raise ValueError(f"spacing must be one of {', '.join(SPACINGS)}")
        self._rng = random.Random(self.seed)
        self._next = self._gap() if self.spacing == "poisson" else 0.0

    def _gap(self) -> float:
        if self.spacing == "poisson":
            return self._rng.expovariate(self.rate)
        return 1.0 / self.rate

    @property
    def finished(self) -> bool:
        return self._next >= self.duration

    @property
    def next_time(self) -> float:
        """The next intended send time (may be ≥ duration once finished)."""
        return self._next

    def due(self, now: float) -> list[float]:
        """Every intended send time ≤ ``now`` not handed out yet, in order."""
        out: list[float] = []
        nxt = self._next
        end = self.duration
        if self.spacing == "constant":
            # Computed from the count, not by adding gaps, so no drift accumulates.
            step = 1.0 / self.rate
            while nxt <= now and nxt < end:
                out.append(nxt)
                self._sent += 1
                nxt = self._sent * step
        else:
            while nxt <= now and nxt < end:
                out.append(nxt)
                nxt += self._gap()
        self._next = nxt
        return out
