"""The restart policy: backoff on quick crashes, none on requested kills, give up on loops."""

from __future__ import annotations

from stateline.local.restart_policy import (
    BackoffConfig,
    GiveUp,
    Restart,
    RestartPolicy,
    RestartState,
)

CFG = BackoffConfig(initial_delay=0.5, factor=2.0, max_delay=3.0, stable_after=10.0,
                    max_quick_crashes=5)


def crash_loop(policy: RestartPolicy, times: int) -> list[object]:
    state, now, decisions = policy.started(RestartState(), 0.0), 0.0, []
    for _ in range(times):
        now += 1.0  # each run lasts one second: a quick crash
        state, decision = policy.exited(state, now, requested=False)
        decisions.append(decision)
        if isinstance(decision, Restart):
            now = decision.at
            state = policy.started(state, now)
    return decisions


def test_quick_crashes_back_off_exponentially_up_to_the_cap() -> None:
    decisions = crash_loop(RestartPolicy(CFG), 4)
    delays = []
    t = 0.0
    for d in decisions:
        assert isinstance(d, Restart)
        t += 1.0
        delays.append(round(d.at - t, 6))
        t = d.at
    assert delays == [0.5, 1.0, 2.0, 3.0]


def test_crash_loop_gives_up_after_max_quick_crashes() -> None:
    decisions = crash_loop(RestartPolicy(CFG), 5)
    assert all(isinstance(d, Restart) for d in decisions[:4])
    assert isinstance(decisions[4], GiveUp)
    assert "5 times" in decisions[4].reason


def test_requested_kill_restarts_at_once_and_is_not_a_crash() -> None:
    policy = RestartPolicy(CFG)
    state = policy.started(RestartState(quick_crashes=3), 100.0)
    state, decision = policy.exited(state, 100.2, requested=True)
    assert decision == Restart(at=100.2)
    assert state.quick_crashes == 3
    assert state.restarts == 1


def test_a_process_that_stayed_up_long_enough_starts_the_backoff_afresh() -> None:
    policy = RestartPolicy(CFG)
    state = policy.started(RestartState(quick_crashes=4), 0.0)
    state, decision = policy.exited(state, 60.0, requested=False)
    assert decision == Restart(at=60.5)
    assert state.quick_crashes == 1


def test_restart_count_grows_with_every_restart_of_either_kind() -> None:
    policy = RestartPolicy(CFG)
    state = policy.started(RestartState(), 0.0)
    state, _ = policy.exited(state, 20.0, requested=False)
    state = policy.started(state, 20.5)
    state, _ = policy.exited(state, 21.0, requested=True)
    assert state.restarts == 2
