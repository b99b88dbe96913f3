"""The experiment console: plain lines off a TTY, figures printed on completion."""

from __future__ import annotations

import io

from stateline.lab.console import headline_text, progress


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
