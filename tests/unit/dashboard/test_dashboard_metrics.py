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
    assert r["instances"]["app-1"] == {"rps": 0.0, "requests": 5.0, "errors": 0.0,
                                       "p50_ms": None, "p99_ms": None}
    assert r["pools"]["app"]["p50_ms"] is None


def test_quantile_of_nothing_is_none() -> None:
    assert metrics.quantile({}, 0.5) is None
    assert metrics.quantile({0.1: 0.0, float("inf"): 0.0}, 0.5) is None


def _instances_text(fast: int, slow: int) -> str:
    """app-1 answers ``fast`` requests in 2 ms; app-2 the same plus ``slow`` in 0.4 s."""
    a, b = UpstreamMetrics(), UpstreamMetrics()
    for _ in range(fast):
        a.observe(0.002)
        b.observe(0.002)
    for _ in range(slow):
        b.observe(0.4)
    return render([("app", PoolMetrics(), [("app-1", a, 0), ("app-2", b, 0)])], connections=1)


def test_parse_reads_the_per_instance_histogram() -> None:
    s = metrics.parse(_instances_text(fast=7, slow=3))
    assert s.instance_buckets["app-1"][float("inf")] == 7.0
    assert s.instance_buckets["app-1"][0.0025] == 7.0
    assert s.instance_buckets["app-1"][0.001] == 0.0
    assert s.instance_buckets["app-2"][float("inf")] == 10.0
    assert s.instance_buckets["app-2"][0.25] == 7.0
    assert s.instance_buckets["app-2"][0.5] == 10.0
    assert s.requests == {"app-1": 7.0, "app-2": 10.0}


def test_per_instance_p50_p99_come_from_the_window_of_each_instance() -> None:
    before = metrics.parse(_instances_text(fast=1000, slow=0))
    after = metrics.parse(_instances_text(fast=1090, slow=10))
    inst = metrics.rates(before, after, 1.0)["instances"]
    assert inst["app-1"]["p50_ms"] == 2.5
    assert inst["app-1"]["p99_ms"] == 2.5  # the slow tail is app-2's only
    assert inst["app-2"]["p50_ms"] == 2.5
    assert inst["app-2"]["p99_ms"] == 500.0  # 10 of its window's 100 took 0.4 s
    assert inst["app-2"]["rps"] == 100.0


def test_an_instance_idle_in_the_window_has_no_percentiles() -> None:
    text = _instances_text(fast=50, slow=5)
    inst = metrics.rates(metrics.parse(text), metrics.parse(text), 1.0)["instances"]
    assert inst["app-1"]["p50_ms"] is None and inst["app-2"]["p99_ms"] is None
    assert inst["app-1"]["rps"] == 0.0 and inst["app-1"]["requests"] == 50.0


def test_workers_histograms_are_summed_per_instance() -> None:
    one = _instances_text(fast=4, slow=0)
    two = one.replace('worker="', 'worker="9')  # a second worker's lines
    s = metrics.parse(one + two)
    assert s.instance_buckets["app-1"][float("inf")] == 8.0
