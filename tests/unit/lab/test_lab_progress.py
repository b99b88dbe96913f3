"""The process-wide load progress channel and its JSON-lines file."""

from __future__ import annotations

import json
from pathlib import Path

from stateline.lab.progress import Tick, TickFile, listening, report, ticking, watched


def tick(t: float, total: float = 20.0, label: str = "load") -> Tick:
    return Tick(t=t, total=total, rps=100.0, errors_per_s=0.0, errors=0, p50_ms=1.0,
                p99_ms=4.0, label=label)


def test_only_listeners_registered_now_hear_a_tick() -> None:
    heard: list[Tick] = []
    assert not watched()
    report(tick(1))  # nobody listens: nothing happens
    with listening(heard.append):
        assert watched()
        report(tick(2))
    report(tick(3))
    assert [t.t for t in heard] == [2]
    assert not watched()


def test_a_failing_listener_does_not_stop_the_others() -> None:
    heard: list[Tick] = []

    def broken(_: Tick) -> None:
        raise RuntimeError("display gone")

    with listening(broken), listening(heard.append):
        report(tick(5))
    assert len(heard) == 1


def test_fraction_is_clamped() -> None:
    assert tick(5).fraction == 0.25
    assert tick(25).fraction == 1.0
    assert tick(1, total=0).fraction == 0.0


def test_tick_file_writes_one_whole_json_record_per_line(tmp_path: Path) -> None:
    f = TickFile(tmp_path / "sub" / "run.jsonl")
    f.step("starting")
    f.tick(tick(1.23456))
    f.write({"kind": "done", "text": "ok"})
    f.close()
    f.step("after close is dropped")
    lines = (tmp_path / "sub" / "run.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["kind"] for r in records] == ["step", "tick", "done"]
    assert records[1]["t"] == 1.235 and records[1]["total"] == 20.0
    assert all(isinstance(r["at"], float) for r in records)


def test_ticking_reports_counted_requests_while_someone_listens() -> None:
    import threading

    heard: list[Tick] = []
    got_two = threading.Event()
    totals = iter(range(1, 10_000))

    def counts() -> tuple[int, int]:
        n = next(totals)
        return n * 10, n

    def listen(t: Tick) -> None:
        heard.append(t)
        if len(heard) >= 2:
            got_two.set()

    with listening(listen), ticking("writes", 30.0, counts, interval=0.01):
        assert got_two.wait(30), "no ticks from the ticking thread"
    first, second = heard[0], heard[1]
    assert (first.label, first.total, first.p99_ms, first.p50_ms) == ("writes", 30.0, None, None)
    assert (first.errors, second.errors) == (1, 2)
    assert second.t > first.t and second.rps > 0


def test_ticking_with_nobody_listening_never_counts() -> None:
    def counts() -> tuple[int, int]:
        raise AssertionError("counted although nobody listens")

    with ticking("writes", 1.0, counts, interval=0.001):
        pass
