"""PoolHealth: the pure health state machine, driven directly with outcomes and times."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stateline.gateway.config import PoolConfig
from stateline.gateway.health import Outcome, OutlierPolicy, PoolHealth, State, Transition
from stateline.gateway.pool import Pool

S, C, G, E = Outcome.SUCCESS, Outcome.CONNECT_FAILURE, Outcome.GATEWAY_FAILURE, Outcome.SERVER_ERROR


def pool(n: int = 10, **policy: float) -> PoolHealth:
    health = PoolHealth(OutlierPolicy(**policy))  # type: ignore[arg-type]
    for i in range(n):
        health.add(f"h{i}")
    return health


def fail(health: PoolHealth, id: str, times: int, outcome: Outcome = E,
         now: float = 0.0) -> list[Transition]:
    return [t for _ in range(times) if (t := health.record(id, outcome, now)) is not None]


def test_defaults_are_envoys() -> None:
    p = OutlierPolicy()
    assert (p.consecutive_5xx, p.consecutive_gateway_failure,
            p.consecutive_local_origin_failure) == (5, 5, 5)
    assert (p.base_ejection_time, p.max_ejection_time, p.max_ejection_percent) == (30, 300, 10)
    assert (p.interval, p.timeout, p.unhealthy_threshold, p.healthy_threshold) == (5, 1, 2, 1)


@pytest.mark.parametrize("bad", [{"consecutive_5xx": 0}, {"base_ejection_time": 0},
                                 {"max_ejection_percent": 101}, {"healthy_threshold": 0}])
def test_nonsense_policy_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        OutlierPolicy(**bad)  # type: ignore[arg-type]


def test_new_hosts_are_available_at_once() -> None:
    health = pool(3)
    assert health.available_ids() == {"h0", "h1", "h2"}
    assert health.state("h0") is State.HEALTHY


@pytest.mark.parametrize(("outcome", "reason"), [
    (E, "consecutive_5xx"),
    (G, "consecutive_gateway_failure"),
    (C, "consecutive_local_origin_failure"),
])
def test_five_consecutive_failures_eject(outcome: Outcome, reason: str) -> None:
    health = pool()
    assert fail(health, "h1", 4, outcome) == []
    assert "h1" in health.available_ids()
    t = health.record("h1", outcome, 0.0)
    assert t == Transition("h1", State.HEALTHY, State.EJECTED, reason)
    assert "h1" not in health.available_ids()
    assert health.ejections_total["h1"] == 1


def test_a_success_resets_the_consecutive_count() -> None:
    health = pool()
    fail(health, "h1", 4)
    health.record("h1", S, 0.0)
    assert fail(health, "h1", 4) == []
    assert health.state("h1") is State.HEALTHY


def test_mixed_failures_count_towards_consecutive_5xx() -> None:
    health = pool()
    for outcome in (E, G, C, E):
        assert health.record("h1", outcome, 0.0) is None
    t = health.record("h1", G, 0.0)
    assert t is not None and t.reason == "consecutive_5xx"


def test_ejection_ends_after_base_time_then_grows_with_repeats() -> None:
    health = pool()
    fail(health, "h1", 5, now=0.0)
    assert health.tick(29.9) == []
    assert health.tick(30.0) == [Transition("h1", State.EJECTED, State.HEALTHY,
                                            "ejection_time_elapsed")]
    assert "h1" in health.available_ids()
    fail(health, "h1", 5, now=31.0)  # again, soon: twice as long
    assert health.tick(90.9) == []
    assert len(health.tick(91.0)) == 1
    fail(health, "h1", 5, now=92.0)  # three times
    assert health.tick(181.9) == []
    assert len(health.tick(182.0)) == 1


def test_ejection_time_is_capped_at_max_ejection_time() -> None:
    p = OutlierPolicy()
    assert [p.ejection_time(n) for n in (1, 2, 10, 11, 100)] == [30, 60, 300, 300, 300]


def test_multiplier_decays_while_the_host_stays_healthy() -> None:
    health = pool(multiplier_decay_interval=10.0)
    fail(health, "h1", 5, now=0.0)
    health.tick(30.0)
    fail(health, "h1", 5, now=31.0)
    health.tick(91.0)  # back, multiplier 2
    for now in range(92, 112):  # 20 quiet seconds: two decays
        health.tick(float(now))
    assert health.snapshot(112.0)["h1"]["ejection_multiplier"] == 0
    fail(health, "h1", 5, now=112.0)
    assert health.snapshot(112.0)["h1"]["ejected_for_s"] == 30.0


def test_at_most_ten_percent_of_a_pool_of_twenty_is_ejected() -> None:
    health = pool(20)
    for i in range(5):
        fail(health, f"h{i}", 5)
    ejected = [i for i in range(20) if health.state(f"h{i}") is State.EJECTED]
    assert ejected == [0, 1]


def test_one_host_may_be_ejected_even_when_ten_percent_is_less_than_one() -> None:
    health = pool(3)
    fail(health, "h0", 5)
    fail(health, "h1", 5)
    assert health.state("h0") is State.EJECTED
    assert health.state("h1") is State.HEALTHY
    assert health.available_ids() == {"h1", "h2"}


def test_a_refused_ejection_happens_once_room_frees_up() -> None:
    health = pool(3)
    fail(health, "h0", 5, now=0.0)
    fail(health, "h1", 5, now=0.0)
    health.tick(30.0)
    t = health.record("h1", E, 31.0)
    assert t is not None and t.new_state is State.EJECTED


def test_max_ejection_percent_zero_still_allows_one() -> None:
    health = pool(5, max_ejection_percent=0.0)
    fail(health, "h0", 5)
    fail(health, "h1", 5)
    assert health.available_ids() == {"h1", "h2", "h3", "h4"}


@settings(deadline=None)  # timing is not the property; CI machines are shared
@given(n=st.integers(1, 40), pct=st.floats(0, 100),
       victims=st.lists(st.integers(0, 39), max_size=40))
def test_passive_ejections_never_exceed_the_limit(n: int, pct: float,
                                                  victims: list[int]) -> None:
    health = pool(n, max_ejection_percent=pct)
    for v in victims:
        fail(health, f"h{v % n}", 5)
    ejected = n - len(health.available_ids())
    if victims:
        assert 1 <= ejected <= max(1, int(n * pct / 100))
    else:
        assert ejected == 0


def test_active_checks_need_unhealthy_threshold_failures_in_a_row() -> None:
    health = pool(2)
    assert health.record_check("h0", False, 0.0) is None
    assert health.record_check("h0", True, 5.0) is None
    assert health.record_check("h0", False, 10.0) is None
    t = health.record_check("h0", False, 15.0)
    assert t == Transition("h0", State.HEALTHY, State.UNHEALTHY, "active_check_failed")
    assert health.available_ids() == {"h1"}


def test_active_checks_need_healthy_threshold_successes_to_return() -> None:
    health = pool(2, healthy_threshold=2)
    health.record_check("h0", False, 0.0)
    health.record_check("h0", False, 1.0)
    assert health.record_check("h0", True, 2.0) is None
    assert health.state("h0") is State.UNHEALTHY
    t = health.record_check("h0", True, 3.0)
    assert t == Transition("h0", State.UNHEALTHY, State.HEALTHY, "active_check_passed")


def test_unhealthy_hosts_are_not_limited_by_max_ejection_percent() -> None:
    health = pool(3)
    for id in ("h0", "h1", "h2"):
        health.record_check(id, False, 0.0)
        health.record_check(id, False, 1.0)
    assert health.available_ids() == frozenset()


def test_a_passing_active_check_ends_a_passive_ejection() -> None:
    health = pool()
    fail(health, "h1", 5)
    t = health.record_check("h1", True, 3.0)
    assert t == Transition("h1", State.EJECTED, State.HEALTHY, "active_check_passed")


def test_draining_hosts_get_no_new_requests_and_come_back() -> None:
    health = pool(2)
    v = health.version
    health.set_draining("h0", True)
    assert health.available_ids() == {"h1"}
    assert health.state("h0") is State.DRAINING
    assert health.version == v + 1
    health.set_draining("h0", True)
    assert health.version == v + 1
    health.set_draining("h0", False)
    assert health.available_ids() == {"h0", "h1"}


def test_admin_ejection_lasts_until_restore_and_ignores_the_limit() -> None:
    health = pool(3)
    health.eject("h0", 0.0)
    health.eject("h1", 0.0)
    assert health.available_ids() == {"h2"}
    assert health.tick(10_000.0) == []
    health.restore("h0")
    assert health.available_ids() == {"h0", "h2"}
    assert health.ejections_total == {"h0": 1, "h1": 1, "h2": 0}


def test_restore_forgets_failure_history() -> None:
    health = pool()
    fail(health, "h1", 5)
    health.restore("h1")
    assert health.state("h1") is State.HEALTHY
    assert fail(health, "h1", 4) == []
    assert health.snapshot(0.0)["h1"]["ejection_multiplier"] == 0


def test_admin_ejection_frees_its_passive_slot() -> None:
    health = pool(3)
    fail(health, "h0", 5)
    health.eject("h0", 1.0)
    fail(health, "h1", 5, now=2.0)
    assert health.state("h1") is State.EJECTED
    assert health.available_ids() == {"h2"}


def test_version_moves_only_when_availability_changes() -> None:
    health = pool(3)
    v = health.version
    fail(health, "h0", 4)
    health.record("h0", S, 0.0)
    health.tick(100.0)
    assert health.version == v
    fail(health, "h0", 5)
    assert health.version == v + 1
    health.tick(30.0)
    assert health.version == v + 2


def test_removed_hosts_are_forgotten_and_late_outcomes_ignored() -> None:
    health = pool(3)
    fail(health, "h0", 5)
    health.remove("h0")
    assert "h0" not in health
    assert health.record("h0", E, 0.0) is None
    assert health.record_check("h0", False, 0.0) is None
    fail(health, "h1", 5)  # the ejected host's slot was freed by the removal
    assert health.available_ids() == {"h2"}


def test_snapshot_reports_state_and_counters() -> None:
    health = pool(2)
    fail(health, "h0", 5, now=100.0)
    health.record("h1", E, 100.0)
    snap = health.snapshot(110.0)
    assert snap["h0"]["state"] == "ejected"
    assert snap["h0"]["ejected_until"] == 130.0
    assert snap["h0"]["ejected_for_s"] == 20.0
    assert snap["h0"]["ejections"] == 1
    assert snap["h1"]["consecutive_5xx"] == 1
    assert snap["h1"]["available"] is True


def test_tick_is_idle_when_nothing_is_due() -> None:
    health = pool(100)
    assert health.tick(1.0) == []
    assert health._next_event == float("inf")


# -- panic routing (Envoy's healthy_panic_threshold) ----------------------------------


def test_a_sole_instance_ejected_for_503s_still_gets_traffic_in_panic() -> None:
    health = pool(1)
    assert fail(health, "h0", 5, G)  # an overloaded app shedding load: 503 counts (Envoy)
    assert health.state("h0") is State.EJECTED and health.available_ids() == frozenset()
    assert health.panic and health.routable_ids() == {"h0"}
    assert health.panics_total == 1


def test_panic_starts_below_the_threshold_not_at_it() -> None:
    health = pool(4, max_ejection_percent=100)
    fail(health, "h0", 5)
    fail(health, "h1", 5)
    assert not health.panic and health.routable_ids() == {"h2", "h3"}  # 50% is not below 50%
    fail(health, "h2", 5)
    assert health.panic and health.routable_ids() == {"h0", "h1", "h2", "h3"}


def test_panic_ends_when_enough_hosts_are_back_and_is_counted_per_entry() -> None:
    health = pool(2, max_ejection_percent=100)
    fail(health, "h0", 5)
    fail(health, "h1", 5)
    assert health.panic
    health.restore("h1")
    assert not health.panic and health.routable_ids() == {"h1"}
    health.restore("h0")
    fail(health, "h0", 5)
    fail(health, "h1", 5)
    assert health.panics_total == 2


def test_panic_never_routes_to_draining_or_admin_ejected_hosts() -> None:
    health = pool(5, max_ejection_percent=100)
    health.set_draining("h0", True)
    health.eject("h1", 0.0)
    fail(health, "h2", 5)
    fail(health, "h3", 5)
    assert health.panic  # one of the three routable hosts available: 33%
    assert health.routable_ids() == {"h2", "h3", "h4"}


def test_a_panic_threshold_of_zero_turns_panic_off() -> None:
    health = pool(1, panic_threshold=0)
    fail(health, "h0", 5, G)
    assert not health.panic and health.routable_ids() == frozenset()


def test_the_pool_routes_to_every_member_in_panic_and_reports_it() -> None:
    p = Pool(PoolConfig(name="apps"))
    for i in range(3):
        p.add(f"i{i}", f"127.0.0.1:{9000 + i}")
    assert not p.health.panic
    for id in ("i0", "i1"):  # two of three fail their active checks: 33% available
        p.health.record_check(id, False, 0.0)
        p.health.record_check(id, False, 0.0)
    picked = {p.pick(None, ()).id for _ in range(30)}  # type: ignore[union-attr]
    assert picked == {"i0", "i1", "i2"}
    assert p.metrics.panic and p.metrics.panics == 1
