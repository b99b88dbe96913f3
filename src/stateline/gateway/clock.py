"""A coarse clock for the hot path: one float, refreshed by the gateway's sweep.

Timeouts are measured in seconds and checked every few hundred
milliseconds, so reading ``coarse.now`` (an attribute) instead of calling
``time.monotonic()`` several times per request costs nothing in precision
that matters and saves calls on every request. Latency figures still use the
real clock.
"""

from __future__ import annotations

import time


class CoarseClock:
    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = time.monotonic()

    def tick(self) -> float:
        self.now = time.monotonic()
        return self.now


coarse = CoarseClock()
