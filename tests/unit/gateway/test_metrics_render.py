"""The per-instance latency histogram: what observe counts and what render emits."""

from __future__ import annotations

import re

from stateline.gateway.metrics import LATENCY_BUCKETS, PoolMetrics, UpstreamMetrics, render

_NAME = "stateline_gateway_upstream_duration_seconds"


def _series(text: str, suffix: str) -> dict[tuple[str, ...], float]:
    """{(instance, le or ""): value} of one of the histogram's series."""
    out: dict[tuple[str, ...], float] = {}
    for line in text.splitlines():
        if line.startswith(f"{_NAME}{suffix}{{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            assert labels["pool"] == "app" and labels["worker"].isdigit()
            out[(labels["instance"], labels.get("le", ""))] = float(line.rsplit(" ", 1)[1])
    return out


def test_observe_fills_the_bucket_holding_the_duration_and_counts_the_response() -> None:
    um = UpstreamMetrics()
    um.observe(0.0001)  # first bucket (0.5 ms)
    um.observe(0.003)  # 5 ms bucket
    um.observe(0.005)  # on a bound: that bucket (le is inclusive)
    um.observe(99.0)  # past the last bound: +Inf
    assert um.requests == 4
    assert um.latency_buckets[0] == 1
    assert um.latency_buckets[LATENCY_BUCKETS.index(0.005)] == 2
    assert um.latency_buckets[-1] == 1
    assert sum(um.latency_buckets) == 4
    assert abs(um.latency_sum - (0.0001 + 0.003 + 0.005 + 99.0)) < 1e-9


def test_render_emits_one_cumulative_histogram_per_instance() -> None:
    a, b = UpstreamMetrics(), UpstreamMetrics()
    for _ in range(3):
        a.observe(0.002)
    for _ in range(5):
        b.observe(0.2)
    b.observe(0.0004)
    text = render([("app", PoolMetrics(), [("app-1", a, 0), ("app-2", b, 0)])], connections=0)
    assert f"# HELP {_NAME} " in text
    assert f"# TYPE {_NAME} histogram" in text
    count, total = _series(text, "_count"), _series(text, "_sum")
    assert count == {("app-1", ""): 3.0, ("app-2", ""): 6.0}
    assert abs(total[("app-1", "")] - 0.006) < 1e-6
    assert abs(total[("app-2", "")] - 1.0004) < 1e-6
    buckets = _series(text, "_bucket")
    assert len(buckets) == 2 * (len(LATENCY_BUCKETS) + 1)
    assert buckets[("app-1", "0.001")] == 0.0
    assert buckets[("app-1", "0.0025")] == 3.0
    assert buckets[("app-1", "+Inf")] == 3.0
    assert buckets[("app-2", "0.0005")] == 1.0
    assert buckets[("app-2", "0.1")] == 1.0
    assert buckets[("app-2", "0.25")] == 6.0
    assert buckets[("app-2", "+Inf")] == 6.0
    # the counter the dashboard already reads stays the same figure
    assert 'stateline_gateway_upstream_requests_total{pool="app",instance="app-2",' in text
    assert re.search(r'upstream_requests_total\{pool="app",instance="app-2",worker="\d+"\} 6\n',
                     text)


def test_an_instance_with_no_responses_renders_zeros() -> None:
    text = render([("app", PoolMetrics(), [("idle", UpstreamMetrics(), 0)])], connections=0)
    assert _series(text, "_count") == {("idle", ""): 0.0}
    assert set(_series(text, "_bucket").values()) == {0.0}
