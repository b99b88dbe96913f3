import random

from hypothesis import given
from hypothesis import strategies as st

from stateline.lab.histogram import Histogram, bucket_bounds, bucket_of, bucket_value


@given(st.integers(min_value=0, max_value=10**11))
def test_every_value_falls_inside_its_bucket_and_the_midpoint_is_within_half_a_percent(v):
    low, high = bucket_bounds(bucket_of(v))
    assert low <= v <= high
    assert abs(bucket_value(bucket_of(v)) - v) <= max(0.5, 0.004 * v)


def test_buckets_are_contiguous_and_increasing():
    previous_high = -1
    for i in range(3000):
        low, high = bucket_bounds(i)
        assert low == previous_high + 1
        previous_high = high


def test_percentiles_match_exact_ones_within_one_percent():
    rng = random.Random(7)
    samples = [rng.lognormvariate(-6, 1.2) for _ in range(20000)]  # ~2.5 ms median
    h = Histogram()
    for s in samples:
        h.record(s)
    ordered = sorted(samples)
    for p in (50, 90, 99, 99.9):
        exact = ordered[int(-(-p * len(ordered) // 100)) - 1]
        assert abs(h.percentile(p) - exact) <= 0.01 * exact + 1e-6


def test_min_and_max_are_exact():
    h = Histogram()
    for s in (0.0123456, 0.5, 3.25):
        h.record(s)
    assert h.percentile(0) == 0.012345
    assert h.percentile(100) == 3.25


def test_merging_gives_the_histogram_of_all_samples():
    a, b, both = Histogram(), Histogram(), Histogram()
    for i in range(1000):
        (a if i % 3 else b).record(i / 1e4)
        both.record(i / 1e4)
    merged = Histogram.merged([a, b])
    assert merged.counts == both.counts
    assert merged.total == 1000 and merged.max_us == both.max_us and merged.min_us == 0


def test_json_round_trip_keeps_percentiles():
    h = Histogram()
    for i in range(1, 500):
        h.record(i / 1e3)
    back = Histogram.from_json(h.to_json())
    assert back.summary() == h.summary()


def test_empty_histogram_reports_zeros_and_negative_latency_counts_as_zero():
    h = Histogram()
    assert h.percentile(99) == 0.0 and h.mean() == 0.0
    h.record(-0.001)
    assert h.total == 1 and h.max_us == 0
