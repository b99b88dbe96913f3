"""Reading health answers and deciding when a starting process is ready, stuck or late."""

from __future__ import annotations

from stateline.local.health import Answer, Outcome, ReadyWatch, parse_answer

STUCK = Answer(503, "stores not reachable yet: OperationalError('connection refused')")


def test_a_200_is_ok_and_a_503_carries_the_bodys_detail() -> None:
    ok = parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}")
    assert ok == Answer(200, None) and ok.ok
    raw = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\r\n"
           b'{"status": "starting", "detail": "stores not reachable yet: boom"}')
    assert parse_answer(raw) == Answer(503, "stores not reachable yet: boom")


def test_garbage_or_no_answer_is_not_ok_and_has_no_detail() -> None:
    assert parse_answer(b"") == Answer()
    assert parse_answer(b"SSH-2.0-OpenSSH\r\n\r\n") == Answer()
    assert parse_answer(b"HTTP/1.1 503 x\r\n\r\nnot json") == Answer(503, None)
    assert parse_answer(b'HTTP/1.1 503 x\r\n\r\n{"detail": 3}') == Answer(503, None)


def test_ready_as_soon_as_health_answers_200() -> None:
    watch = ReadyWatch(now=0, timeout=60, stuck_after=15)
    assert watch.observe(Answer(), 1) is None
    assert watch.observe(Answer(200), 2) == Outcome(True)


def test_the_same_problem_for_stuck_after_seconds_gives_up_early_and_says_it() -> None:
    watch = ReadyWatch(now=0, timeout=60, stuck_after=15)
    assert watch.observe(STUCK, 1) is None
    assert watch.observe(STUCK, 15.9) is None
    verdict = watch.observe(STUCK, 16)
    assert verdict == Outcome(False, f"kept reporting the same problem for 15s: {STUCK.detail}")


def test_a_changing_problem_restarts_the_stuck_clock() -> None:
    watch = ReadyWatch(now=0, timeout=60, stuck_after=15)
    watch.observe(STUCK, 0)
    assert watch.observe(Answer(503, "stores not reachable yet: cluster down"), 10) is None
    assert watch.observe(STUCK, 20) is None  # back to the first problem: a new streak
    assert watch.observe(STUCK, 34) is None


def test_no_detail_never_counts_as_stuck_but_the_timeout_still_ends_the_wait() -> None:
    watch = ReadyWatch(now=0, timeout=60, stuck_after=15)
    assert watch.observe(Answer(), 30) is None
    assert watch.observe(Answer(), 60) == Outcome(False, "was not healthy within 60s")


def test_the_timeout_message_repeats_what_the_process_last_said() -> None:
    watch = ReadyWatch(now=0, timeout=10, stuck_after=15)
    watch.observe(STUCK, 1)
    assert watch.observe(STUCK, 10) == Outcome(
        False, f"was not healthy within 10s (it last said: {STUCK.detail})")
