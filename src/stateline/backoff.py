"""How a loop that polls something unreachable waits and logs: backing off, not flooding.

A gateway polls its registry four times a second. With the registry down,
logging every failed poll writes four identical lines a second for as long as
the outage lasts and hammers a Redis that may be struggling to come back. So:
after each consecutive failure the delay doubles (from the normal interval up
to ``max_s``), the first failure is logged, then only every ``log_every_s``
while it lasts (with the count), and the recovery once. Time is passed in
(``now``), so the policy is tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Consecutive-failure state of one polling loop."""

    base_s: float
    max_s: float = 5.0
    log_every_s: float = 30.0
    failures: int = 0
    _last_log: float | None = field(default=None, repr=False)

    def failed(self, now: float) -> tuple[float, bool]:
        """Record a failure at ``now``: (seconds to wait before the next try, log this one?)."""
        self.failures += 1
        delay = min(self.max_s, self.base_s * 2 ** min(self.failures, 30))
        loud = self._last_log is None or now - self._last_log >= self.log_every_s
        if loud:
            self._last_log = now
        return max(self.base_s, delay), loud

    def succeeded(self) -> int:
        """Record a success; returns how many failures in a row it ends (0: none to report)."""
        ended, self.failures, self._last_log = self.failures, 0, None
        return ended
