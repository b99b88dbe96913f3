import itertools

import pytest

from stateline.lab.schedule import Schedule


def test_constant_spacing_hands_out_exactly_rate_times_duration_sends_evenly_spaced():
    s = Schedule(rate=100, duration=2.0)
    times = s.due(10.0)
    assert len(times) == 200
    assert times[0] == 0.0
    assert all(abs((b - a) - 0.01) < 1e-9 for a, b in itertools.pairwise(times))
    assert s.finished


def test_due_returns_only_times_up_to_now_and_each_once():
    s = Schedule(rate=10, duration=1.0)
    first = s.due(0.25)
    assert first == pytest.approx([0.0, 0.1, 0.2])
    second = s.due(0.25)
    assert second == []
    assert s.due(0.5) == pytest.approx([0.3, 0.4, 0.5])


def test_a_late_caller_gets_the_backlog_at_the_intended_times_not_now():
    s = Schedule(rate=1000, duration=1.0)
    backlog = s.due(0.5)  # the generator stalled for half a second
    assert len(backlog) == 501
    assert backlog[-1] == pytest.approx(0.5)
    assert backlog[0] == 0.0


def test_poisson_spacing_has_the_requested_mean_rate_and_varies():
    s = Schedule(rate=2000, duration=10.0, spacing="poisson", seed=3)
    times = s.due(20.0)
    assert 19_000 < len(times) < 21_000
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) > 3 * min(gaps) + 1e-4
    assert times == sorted(times)


def test_poisson_is_reproducible_with_a_seed():
    a = Schedule(rate=50, duration=1.0, spacing="poisson", seed=9).due(1.0)
    b = Schedule(rate=50, duration=1.0, spacing="poisson", seed=9).due(1.0)
    assert a == b


@pytest.mark.parametrize("kwargs", [{"rate": 0, "duration": 1}, {"rate": 1, "duration": 0},
                                    {"rate": 1, "duration": 1, "spacing": "bursty"}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        Schedule(**kwargs)
