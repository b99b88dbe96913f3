"""The plots' reading rules (issue 15), checked on synthetic data, no running system.

Each test draws with the real matplotlib and inspects the figure it drew (ticks,
labels, markers), so a regression is the problem a reader would see.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from stateline.lab import plots


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every figure a plot function closes, kept open for inspection."""
    kept: list = []
    close = plt.close
    monkeypatch.setattr(plots.plt, "close", kept.append)
    yield kept
    for fig in kept:
        close(fig)


def _png_ok(png: bytes) -> None:
    assert png.startswith(b"\x89PNG")


def _labels(ax, axis: str = "y") -> list[str]:
    ax.figure.canvas.draw()
    ticks = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    locs = ax.get_yticks() if axis == "y" else ax.get_xticks()
    return [t.get_text() for t, v in zip(ticks, locs, strict=False)
            if lo <= v <= hi and t.get_text()]


def _timeline_result() -> dict:
    buckets = [{"t": t * 0.25, "p50_ms": 3.0 + (t % 3), "p99_ms": 12.0 + t,
                "instances": {"app-1": 20, "app-2": 20 if t < 10 else 0, "app-3": 20},
                "errors": 1 if t == 10 else 0} for t in range(40)]
    buckets[12]["p50_ms"] = buckets[12]["p99_ms"] = 0  # a bucket with no answer
    return {"timeline": buckets, "resolution_s": 0.25}


def test_timeline_log_axis_has_several_plain_tick_labels(figures: list) -> None:
    _png_ok(plots.timeline(_timeline_result(), [(2.5, "SIGKILL app-2")], "t",
                           caption="what to see"))
    top = figures[0].axes[0]
    labels = _labels(top)
    assert len(labels) >= 3, labels
    assert all("10^" not in s and "$" not in s for s in labels), labels
    assert top.get_ylim()[0] > 0
    assert any(t.get_text() == "what to see" for t in figures[0].texts)


def test_events_failures_are_their_own_row_not_latency_zero(figures: list) -> None:
    points = [(t / 10, 0.5 + (t % 7)) for t in range(200)]
    failures = [3.0, 3.1, 3.2, 3.3]
    plots.events(points, failures, [(3.0, "SIGKILL")], "write latency (ms)", "w")
    latency, strip = figures[0].axes
    assert latency.get_ylim()[0] > 0  # no tick at or below zero on the latency axis
    assert all(not s.startswith(("-", "−")) for s in _labels(latency))
    # the latency axis holds only the successes; the strip holds the failures
    assert sum(len(c.get_offsets()) for c in latency.collections) == len(points)
    assert sum(len(c.get_offsets()) for c in strip.collections) == len(failures)


def test_bars_label_every_value_and_show_zero(figures: list) -> None:
    cats = ["true count", "Redis INCR", "in-process (highest seen)", "Redis after restart",
            "in-process after restart"]
    plots.bars(cats, {"value": [600, 600, 210, 600, 0]}, "counter value", "c")
    ax = figures[0].axes[0]
    texts = [a.get_text() for a in ax.texts]
    assert texts == ["600", "600", "210", "600", "0"]
    zero_markers = [line for line in ax.lines if list(line.get_ydata()) == [0]]
    assert zero_markers, "a zero bar must still be visible"
    # long category names are wrapped so neighbours do not overlap
    assert all(len(max(t.split("\n"), key=len)) <= 14 for t in _labels(ax, "x")), \
        _labels(ax, "x")


def test_bars_baseline_is_marked_and_noted(figures: list) -> None:
    plots.bars(["round_robin", "mod_n", "rendezvous"], {"moved": [75.0, 74.8, 25.1]},
               "% of keys", "r", baselines={"round_robin": "baseline: ignores the key"},
               percent=True)
    ax = figures[0].axes[0]
    first, second = ax.patches[0], ax.patches[1]
    assert first.get_hatch() and not second.get_hatch()
    assert "baseline" in _labels(ax, "x")[0]
    assert [a.get_text() for a in ax.texts] == ["75.0 %", "74.8 %", "25.1 %"]


def test_lines_instance_axis_has_integer_ticks(figures: list) -> None:
    plots.lines([1, 2, 3], {"cpu": [100.0, 180.0, 190.0]}, "app instances", "req/s", "s",
                vline=(2, "2 cores"))
    ax = figures[0].axes[0]
    ticks = [v for v in ax.get_xticks() if ax.get_xlim()[0] <= v <= ax.get_xlim()[1]]
    assert ticks and all(float(v).is_integer() for v in ticks), ticks


@pytest.mark.parametrize("value,text", [(0.5, "0.5"), (2, "2"), (10, "10"), (2000, "2k")])
def test_plain_number(value: float, text: str) -> None:
    assert plots.plain_number(value) == text
