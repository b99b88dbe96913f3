"""The experiment console: plain lines off a TTY, figures printed on completion."""

from __future__ import annotations

import io

from stateline.lab.console import headline_text, progress
from stateline.lab.progress import Tick, report, watched


def test_progress_off_a_tty_prints_plain_lines() -> None:
    out = io.StringIO()
    with progress("failover", out) as log:
        log("failover: 200 req/s for 24s")
        log("  t=3.0s SIGKILL app-2")
    assert out.getvalue() == "failover: 200 req/s for 24s\n  t=3.0s SIGKILL app-2\n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_tty_keeps_the_log_lines() -> None:
    out = _Tty()
    with progress("routing", out) as log:
        log("routing: 20,000 keys")
    assert "routing: 20,000 keys" in out.getvalue()


def test_headline_text_has_the_sentence_and_every_figure() -> None:
    data = {"quick": True, "headline": {
        "requests": 4800, "failed": 0, "failed_during_drain": 0, "peak_p99_ms": 12.5,
        "baseline_p99_ms": 3.25, "time_to_full_capacity_s": 1.5}}
    text = headline_text("failover", data)
    first, *rest = text.splitlines()
    assert first.startswith("failover: SIGKILL of 1 of 3 instances: 0 failed of 4,800")
    assert "quick run" in text
    assert any(line.split() == ["peak", "p99", "ms", "12.5"] for line in rest), rest


def _tick(t: float, total: float, label: str = "load") -> Tick:
    return Tick(t=t, total=total, rps=200.0, errors_per_s=0.0, errors=3, p50_ms=1.5,
                p99_ms=6.25, label=label)


def test_off_a_tty_a_load_prints_one_line_per_quarter() -> None:
    out = io.StringIO()
    with progress("failover", out) as log:
        log("failover: 200 req/s for 24s")
        for i in range(1, 49):  # a 24 s load ticking twice a second
            report(_tick(i / 2, 24.0))
    lines = out.getvalue().splitlines()
    assert lines[0] == "failover: 200 req/s for 24s"
    assert [line.split(":")[1].split()[0] for line in lines[1:]] == ["25%", "50%", "75%"]
    assert lines[1] == ("  load: 25% (6/24 s, ETA 18 s)  200 req/s  3 errors  p99 6.2 ms")


def test_off_a_tty_a_short_load_prints_nothing_and_a_new_load_starts_over() -> None:
    out = io.StringIO()
    with progress("scaling", out):
        for i in range(1, 10):
            report(_tick(i / 2, 5.0))  # shorter than PLAIN_MIN_SECONDS
        for label in ("1 instance(s)", "2 instance(s)"):
            for i in range(1, 25):
                report(_tick(i / 2, 12.0, label))
    lines = out.getvalue().splitlines()
    assert len(lines) == 6
    assert [line.split(":")[0].strip() for line in lines] == ["1 instance(s)"] * 3 + [
        "2 instance(s)"] * 3


def test_on_a_tty_a_load_shows_a_bar_with_its_percentage() -> None:
    out = _Tty()
    with progress("failover", out) as log:
        log("failover: 200 req/s for 24s")
        report(_tick(12.0, 24.0, "load with a SIGKILL"))
        log("t=12.0s SIGKILL app-2")
    text = out.getvalue()
    assert "t=12.0s SIGKILL app-2" in text
    assert "50%" in text and "load with a SIGKILL" in text


def test_no_listener_is_left_behind() -> None:
    with progress("x", io.StringIO()):
        assert watched()
    assert not watched()


def test_a_load_without_latency_shows_no_p99() -> None:
    out = io.StringIO()
    with progress("exactly-once", out):
        for i in range(1, 41):
            report(Tick(t=i / 2, total=20.0, rps=80.0, errors_per_s=0.0, errors=0,
                        p50_ms=None, p99_ms=None, label="keyed writes"))
    assert out.getvalue().splitlines()[0] == (
        "  keyed writes: 25% (5/20 s, ETA 15 s)  80 req/s  0 errors")
