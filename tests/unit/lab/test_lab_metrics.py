import pytest

from stateline.lab.metrics import (
    coefficient_of_variation,
    fraction_moved,
    knee,
    latency_spike,
    scaling_efficiency,
    time_to_full_capacity,
    unavailability_window,
)


def bucket(t, p99=1.0, requests=30, errors=0, instances=None):
    return {"t": t, "p99_ms": p99, "requests": requests, "errors": errors,
            "instances": instances if instances is not None else {"a": 10, "b": 10, "c": 10}}


def test_cv_is_zero_for_an_even_spread_and_grows_with_imbalance():
    assert coefficient_of_variation([5, 5, 5]) == 0
    assert coefficient_of_variation([0, 0, 30]) == pytest.approx(2 ** 0.5)
    assert coefficient_of_variation([]) == 0


def test_fraction_moved_counts_keys_whose_owner_changed():
    before = {1: "a", 2: "a", 3: "b", 4: "c"}
    after = {1: "a", 2: "d", 3: "b", 4: "d"}
    assert fraction_moved(before, after) == 0.5


def test_latency_spike_compares_the_peak_after_the_fault_with_the_median_before():
    timeline = [bucket(t, p99=2.0) for t in range(5)]
    timeline += [bucket(5, p99=40.0), bucket(6, p99=10.0), bucket(7, p99=2.0),
                 bucket(20, p99=99.0)]
    spike = latency_spike(timeline, fault_at=5, window=5)
    assert spike == {"baseline_p99_ms": 2.0, "peak_p99_ms": 40.0, "spike_ratio": 20.0}


def test_time_to_full_capacity_is_when_all_instances_serve_their_share_for_good():
    down = {"a": 15, "c": 15}
    partial = {"a": 14, "b": 2, "c": 14}
    timeline = [bucket(0), bucket(1), bucket(2, instances=down), bucket(3, instances=partial),
                bucket(4), bucket(5, instances=down), bucket(6), bucket(7)]
    # 4 is full, 5 is not again, so capacity is back for good at 6
    assert time_to_full_capacity(timeline, fault_at=2, instances=["a", "b", "c"]) == 4
    assert time_to_full_capacity(timeline[:6], 2, ["a", "b", "c"]) is None


def test_unavailability_window_runs_from_first_failure_to_the_success_after_the_last():
    outcomes = [(0.5, True), (1.0, False), (1.2, True), (1.5, False), (2.0, False),
                (3.25, True), (4.0, True)]
    w = unavailability_window(outcomes, after=0.8)
    assert w == {"window_s": 2.25, "failed": 3, "first_failure_s": 0.2}
    assert unavailability_window([(1, True)])["window_s"] == 0


def test_scaling_efficiency_is_throughput_over_n_times_one_instance():
    assert scaling_efficiency({1: 100, 2: 180, 4: 200}) == {1: 1.0, 2: 0.9, 4: 0.5}


def test_knee_is_where_one_more_instance_stops_paying():
    assert knee({1: 100, 2: 190, 3: 200, 4: 201}) == 2
    assert knee({1: 100, 2: 200, 3: 300}) == 3
