"""The retry policy of polling loops: delays double up to a cap, logging is rate-limited."""

from __future__ import annotations

from stateline.backoff import Backoff


def test_delays_double_from_the_interval_up_to_the_cap() -> None:
    b = Backoff(0.25, max_s=5.0)
    delays = [b.failed(now=float(i))[0] for i in range(8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]
    assert b.failures == 8


def test_the_first_failure_is_logged_then_once_per_period_then_the_recovery() -> None:
    b = Backoff(0.25, log_every_s=30.0)
    loud = [b.failed(now=t)[1] for t in (0.0, 0.5, 1.5, 29.9, 30.0, 31.0, 60.0)]
    assert loud == [True, False, False, False, True, False, True]
    assert b.succeeded() == 7
    assert b.succeeded() == 0  # nothing more to report
    assert b.failed(now=61.0) == (0.5, True)  # a new outage is logged at once
