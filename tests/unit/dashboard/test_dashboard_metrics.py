"""The dashboard reading the gateway's real Prometheus text (rendered by the gateway)."""

from __future__ import annotations

from stateline.dashboard import metrics
from stateline.gateway.metrics import PoolMetrics, UpstreamMetrics, render


def _text(requests: int, fast: int, slow: int, errors: int = 0) -> str:
    pool = PoolMetrics()
    for _ in range(fast):
        pool.observe(200, 0.002)
    for _ in range(slow):
        pool.observe(503, 0.4)
    a, b = UpstreamMetrics(), UpstreamMetrics()
    a.requests, b.requests = requests, requests * 2
    for _ in range(errors):
        b.error("connect")
    return render([("app", pool, [("app-1", a, 0), ("app-2", b, 1)])], connections=1)


def test_parse_reads_instances_pools_and_buckets() -> None:
    s = metrics.parse(_text(10, fast=5, slow=1, errors=2))
    assert s.requests == {"app-1": 10.0, "app-2": 20.0}
    assert s.errors == {"app-2": 2.0}
    assert s.pool_requests["app"] == 6.0
    assert s.pool_errors["app"] == 1.0
    assert s.buckets["app"][float("inf")] == 6.0


def test_rates_are_deltas_over_the_window() -> None:
    before = metrics.parse(_text(10, fast=100, slow=0))
    after = metrics.parse(_text(30, fast=200, slow=0))
    r = metrics.rates(before, after, 2.0)
    assert r["instances"]["app-1"]["rps"] == 10.0  # (30 - 10) / 2 s
    assert r["instances"]["app-2"]["rps"] == 20.0
    pool = r["pools"]["app"]
    assert pool["rps"] == 50.0
    assert pool["p50_ms"] == 2.5  # 2 ms falls in the 2.5 ms bucket
    assert pool["p99_ms"] == 2.5


def test_p99_sees_the_slow_tail_of_the_window_only() -> None:
    before = metrics.parse(_text(0, fast=1000, slow=0))
    after = metrics.parse(_text(0, fast=1090, slow=10))
    pool = metrics.rates(before, after, 1.0)["pools"]["app"]
    assert pool["p50_ms"] == 2.5
    assert pool["p99_ms"] == 500.0  # 10 of the window's 100 took 0.4 s


def test_first_scrape_has_no_rate_and_no_window() -> None:
    r = metrics.rates(None, metrics.parse(_text(5, fast=3, slow=0)), 1.0)
    assert r["instances"]["app-1"] == {"rps": 0.0, "requests": 5.0, "errors": 0.0}
    assert r["pools"]["app"]["p50_ms"] is None


def test_quantile_of_nothing_is_none() -> None:
    assert metrics.quantile({}, 0.5) is None
    assert metrics.quantile({0.1: 0.0, float("inf"): 0.0}, 0.5) is None
