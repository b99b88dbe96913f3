"""PNG plots for experiment reports (matplotlib, Agg backend: no display needed).

Each function takes plain data and returns PNG bytes, so an experiment writes
them next to its data.json and the report embeds them as base64. The rules every
plot follows, so a reader never has to guess (issue 15):

- a log axis has several labelled ticks in plain numbers (1, 2, 5, 10, …), never a
  lone ``10¹``, and never a tick at or below zero;
- a failed operation has no latency, so it is drawn as its own marker row, not at 0;
- every bar carries its value, and a zero bar is still visible (a marker and "0");
- an axis that counts things (instances) has integer ticks only;
- a bar that is a baseline rather than a candidate is hatched and says so;
- a ``caption`` (one line: what to see) is printed under the figure.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display on servers and in CI
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

#: Smallest latency a log axis shows (ms): a 0 or negative value cannot sit on it.
FLOOR_MS = 0.01


def _png(fig: Figure, caption: str | None = None) -> bytes:
    if caption:
        fig.text(0.5, 0.01, textwrap.fill(caption, 120), ha="center", va="bottom",
                 fontsize="small", style="italic", color="#333333")
        fig.tight_layout(rect=(0, 0.06 if len(caption) <= 120 else 0.1, 1, 1))
    else:
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def plain_number(value: float) -> str:
    """A tick label a reader can use: 0.5, 2, 10, 1k, never 10⁰ or 2×10¹."""
    if value >= 1000:
        k = value / 1000
        return f"{k:g}k"
    if value >= 1:
        return f"{value:g}"
    return f"{value:.2g}"


def log_axis(ax: Axes, values: Sequence[float]) -> None:
    """Log y axis with 1-2-5 ticks labelled in plain numbers, limits from the data (> 0)."""
    positive = [v for v in values if v is not None and v > 0]
    lo = max(FLOOR_MS, min(positive)) if positive else 1.0
    hi = max(positive) if positive else 10.0
    ax.set_yscale("log")
    lo_lim = 10 ** math.floor(math.log10(lo))
    hi_lim = max(hi * 1.5, lo_lim * 10)
    ax.set_ylim(lo_lim, hi_lim)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=30))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: plain_number(v)))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(axis="y", which="major", alpha=0.3)


def _marks(ax: Axes, marks: Sequence[tuple[float, str]], label: bool) -> None:
    for t, text in marks:
        ax.axvline(t, color="black", linestyle="--", linewidth=1)
        if label:
            ax.annotate(text, (t, 1), xycoords=("data", "axes fraction"),
                        xytext=(3, -12), textcoords="offset points", fontsize="small")


def timeline(result: Mapping[str, Any], marks: Sequence[tuple[float, str]], title: str,
             caption: str | None = None) -> bytes:
    """Latency (p50, p99) and per-instance throughput over time, faults marked."""
    buckets = result["timeline"]
    res = result.get("resolution_s", 1.0)
    ts = [b["t"] for b in buckets]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True)
    # A bucket with no answer has no latency: a gap in the line, not a point at 0.
    p50 = [b["p50_ms"] if b.get("p50_ms") else math.nan for b in buckets]
    p99 = [b["p99_ms"] if b.get("p99_ms") else math.nan for b in buckets]
    top.plot(ts, p50, label="p50")
    top.plot(ts, p99, label="p99")
    top.set_ylabel("latency (ms, log)")
    log_axis(top, [v for v in p50 + p99 if not math.isnan(v)])
    top.legend(loc="upper left")
    instances = sorted({i for b in buckets for i in b["instances"]})
    for inst in instances:
        bottom.plot(ts, [b["instances"].get(inst, 0) / res for b in buckets], label=inst)
    bottom.plot(ts, [b["errors"] / res for b in buckets], label="errors", color="red",
                linestyle=":")
    bottom.set_ylabel("requests/s")
    bottom.set_xlabel("time since load start (s)")
    bottom.set_ylim(bottom=0)
    bottom.grid(alpha=0.3)
    if instances:
        bottom.legend(loc="upper left", fontsize="small", ncol=4)
    _marks(top, marks, label=True)
    _marks(bottom, marks, label=False)
    top.set_title(title)
    return _png(fig, caption)


def lines(x: Sequence[float], series: Mapping[str, Sequence[float]], xlabel: str,
          ylabel: str, title: str, vline: tuple[float, str] | None = None,
          integer_x: bool = True, caption: str | None = None) -> bytes:
    """Several series against one x axis (scaling curves); integer x ticks by default."""
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for label, ys in series.items():
        ax.plot(list(x), list(ys), marker="o", label=label)
        for xv, yv in zip(x, ys, strict=False):
            ax.annotate(plain_number(yv) if yv else "0", (xv, yv), xytext=(0, 5),
                        textcoords="offset points", ha="center", fontsize="x-small")
    if vline is not None:
        ax.axvline(vline[0], color="grey", linestyle="--")
        ax.annotate(vline[1], (vline[0], 0.95), xycoords=("data", "axes fraction"),
                    xytext=(4, 0), textcoords="offset points", fontsize="small")
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(fig, caption)


def _value_label(value: float, percent: bool) -> str:
    if value == 0:
        return "0"
    fractional = abs(value) < 10 and value != int(value)
    text = f"{value:.1f}" if percent or fractional else f"{value:,.0f}"
    return text + (" %" if percent else "")


def bars(categories: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str,
         title: str, baselines: Mapping[str, str] | None = None, percent: bool = False,
         caption: str | None = None) -> bytes:
    """Grouped bars: one group per category, one bar per series, each bar labelled.

    ``baselines`` maps a category to a note ("baseline: ignores the key"): its bars
    are hatched grey and the note is written under its name, so a reader does not
    compare it with the candidates as if it were one. A zero bar gets a marker on
    the axis and a "0" label, so it is seen rather than missed.
    """
    baselines = baselines or {}
    fig, ax = plt.subplots(figsize=(max(7.0, 1.6 * len(categories) + 2), 4.8))
    n = max(1, len(series))
    width = 0.8 / n
    top = max((v for vs in series.values() for v in vs), default=0) or 1
    for k, (label, values) in enumerate(series.items()):
        xs = [i + (k - (n - 1) / 2) * width for i in range(len(categories))]
        drawn = ax.bar(xs, list(values), width=width, label=label)
        for patch, cat in zip(drawn, categories, strict=False):
            if cat in baselines:
                patch.set_facecolor("#bbbbbb")
                patch.set_hatch("//")
                patch.set_edgecolor("#666666")
        for xv, v in zip(xs, values, strict=False):
            ax.annotate(_value_label(v, percent), (xv, v), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom",
                        fontsize="small", fontweight="bold")
            if v == 0:
                ax.plot([xv], [0], marker="_", markersize=24, markeredgewidth=3,
                        color="black", clip_on=False)
    labels = [textwrap.fill(c, 14) + (f"\n({textwrap.fill(baselines[c], 22)})"
                                      if c in baselines else "")
              for c in categories]
    ax.set_xticks(range(len(categories)), labels, fontsize="small")
    ax.set_ylim(0, top * 1.18)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _png(fig, caption)


def events(points: Sequence[tuple[float, float]], failures: Sequence[float],
           marks: Sequence[tuple[float, str]], ylabel: str, title: str,
           caption: str | None = None) -> bytes:
    """Per-operation latency over time; failed operations on their own row beneath.

    A failed write has no latency, so it is not drawn on the latency axis (where 0
    cannot exist on a log scale and would read as "fast"): it is a red tick on a
    separate strip that shares the time axis.
    """
    fig, (ax, strip) = plt.subplots(2, 1, figsize=(9, 4.8), sharex=True,
                                    gridspec_kw={"height_ratios": [5, 1]})
    if points:
        ax.scatter([p[0] for p in points], [max(p[1], FLOOR_MS) for p in points], s=2,
                   label=f"succeeded ({len(points):,})")
    log_axis(ax, [p[1] for p in points])
    strip.scatter(list(failures), [0.5] * len(failures), s=40, color="red", marker="|",
                  label=f"failed ({len(failures):,})")
    strip.set_ylim(0, 1)
    strip.set_yticks([0.5], [f"failed\n({len(failures):,})"], fontsize="small")
    strip.tick_params(axis="y", length=0)
    _marks(ax, marks, label=True)
    _marks(strip, marks, label=False)
    strip.set_xlabel("time since load start (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if points:
        ax.legend(loc="upper right", markerscale=4)
    return _png(fig, caption)
