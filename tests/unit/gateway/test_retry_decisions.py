"""Retry decisions and the retry budget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stateline.gateway.retry import IDEMPOTENT_METHODS, Failure, RetryBudget, may_retry

BEFORE_SEND = [Failure.CONNECT_FAILED, Failure.STALE_CONNECTION, Failure.MISDIRECTED]
AFTER_SEND = [Failure.RESET_AFTER_SEND, Failure.UPSTREAM_TIMEOUT, Failure.BAD_RESPONSE,
              Failure.HTTP_5XX]
METHODS = [b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE", b"POST", b"PATCH",
           b"CONNECT", b"PURGE"]


def expected(method: bytes, key: bool, failure: Failure, replayable: bool) -> bool:
    """The decision table from the issue, written out independently of the implementation."""
    if not replayable:
        return False
    if failure in BEFORE_SEND:
        return True
    return key or method in {b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"}


@pytest.mark.parametrize("failure", list(Failure))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("key", [False, True])
@pytest.mark.parametrize("replayable", [False, True])
def test_retry_decision_table(method: bytes, key: bool, failure: Failure,
                              replayable: bool) -> None:
    assert may_retry(method, key, failure, replayable) is expected(method, key, failure,
                                                                   replayable)


@pytest.mark.parametrize("failure", AFTER_SEND)
def test_a_sent_post_is_never_sent_twice(failure: Failure) -> None:
    assert may_retry(b"POST", False, failure, True) is False


@pytest.mark.parametrize("failure", BEFORE_SEND)
def test_a_post_that_reached_no_app_is_retried(failure: Failure) -> None:
    assert may_retry(b"POST", False, failure, True) is True


def test_an_idempotency_key_makes_a_post_retryable_after_send() -> None:
    assert may_retry(b"POST", True, Failure.UPSTREAM_TIMEOUT, True) is True


def test_a_consumed_streaming_body_is_never_retried() -> None:
    assert may_retry(b"PUT", True, Failure.CONNECT_FAILED, False) is False


def test_methods_are_case_sensitive_as_in_http() -> None:
    assert b"get" not in IDEMPOTENT_METHODS
    assert may_retry(b"get", False, Failure.HTTP_5XX, True) is False


def test_failure_knows_whether_the_app_could_have_seen_the_request() -> None:
    assert [f for f in Failure if f.before_send] == BEFORE_SEND


def test_budget_floor_allows_min_retry_concurrency_when_quiet() -> None:
    budget = RetryBudget()
    assert [budget.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert budget.exhausted_total == 1
    budget.release()
    assert budget.try_acquire() is True


def test_budget_allows_twenty_percent_of_active_requests() -> None:
    budget = RetryBudget()
    for _ in range(100):
        budget.request_started()
    granted = sum(budget.try_acquire() for _ in range(50))
    assert granted == 20
    for _ in range(50):
        budget.request_finished()
    assert budget.allowed() == 10
    assert budget.try_acquire() is False


@settings(deadline=None)  # timing is not the property; CI machines are shared
@given(requests=st.integers(0, 500), percent=st.floats(0, 100), floor=st.integers(0, 10),
       attempts=st.integers(0, 200))
def test_budget_never_grants_more_than_its_share(requests: int, percent: float, floor: int,
                                                 attempts: int) -> None:
    budget = RetryBudget(percent, floor)
    for _ in range(requests):
        budget.request_started()
    granted = sum(budget.try_acquire() for _ in range(attempts))
    assert granted == min(attempts, max(floor, int(requests * (percent / 100.0))))
    assert budget.active_retries == granted


def test_budget_counts_never_go_negative() -> None:
    budget = RetryBudget()
    budget.request_finished()
    budget.release()
    assert (budget.active_requests, budget.active_retries) == (0, 0)


@pytest.mark.parametrize(("percent", "floor"), [(-1.0, 3), (20.0, -1)])
def test_budget_refuses_negative_settings(percent: float, floor: int) -> None:
    with pytest.raises(ValueError):
        RetryBudget(percent, floor)
