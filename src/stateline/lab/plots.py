"""PNG plots for experiment reports (matplotlib, Agg backend: no display needed).

Each function takes plain data and returns PNG bytes, so an experiment writes
them next to its data.json and the report embeds them as base64.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display on servers and in CI
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def timeline(result: Mapping[str, Any], marks: Sequence[tuple[float, str]], title: str) -> bytes:
    """Latency (p50, p99) and per-instance throughput over time, faults marked."""
    buckets = result["timeline"]
    res = result.get("resolution_s", 1.0)
    ts = [b["t"] for b in buckets]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(ts, [b["p50_ms"] for b in buckets], label="p50")
    top.plot(ts, [b["p99_ms"] for b in buckets], label="p99")
    top.set_ylabel("latency (ms)")
    top.set_yscale("symlog", linthresh=1.0)
    top.legend(loc="upper left")
    instances = sorted({i for b in buckets for i in b["instances"]})
    for inst in instances:
        bottom.plot(ts, [b["instances"].get(inst, 0) / res for b in buckets], label=inst)
    bottom.plot(ts, [b["errors"] / res for b in buckets], label="errors", color="red",
                linestyle=":")
    bottom.set_ylabel("requests/s")
    bottom.set_xlabel("time since load start (s)")
    if instances:
        bottom.legend(loc="upper left", fontsize="small", ncol=3)
    for ax in (top, bottom):
        for t, label in marks:
            ax.axvline(t, color="black", linestyle="--", linewidth=1)
            if ax is top:
                ax.annotate(label, (t, 1), xycoords=("data", "axes fraction"),
                            xytext=(3, -12), textcoords="offset points", fontsize="small")
    top.set_title(title)
    return _png(fig)


def lines(x: Sequence[float], series: Mapping[str, Sequence[float]], xlabel: str,
          ylabel: str, title: str, vline: tuple[float, str] | None = None) -> bytes:
    """Several series against one x axis (scaling curves)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, ys in series.items():
        ax.plot(list(x), list(ys), marker="o", label=label)
    if vline is not None:
        ax.axvline(vline[0], color="grey", linestyle="--")
        ax.annotate(vline[1], (vline[0], 0.95), xycoords=("data", "axes fraction"),
                    xytext=(4, 0), textcoords="offset points", fontsize="small")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(fig)


def bars(categories: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str,
         title: str) -> bytes:
    """Grouped bars: one group per category, one bar per series."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    n = max(1, len(series))
    width = 0.8 / n
    for k, (label, values) in enumerate(series.items()):
        xs = [i + (k - (n - 1) / 2) * width for i in range(len(categories))]
        ax.bar(xs, list(values), width=width, label=label)
    ax.set_xticks(range(len(categories)), list(categories))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def events(points: Sequence[tuple[float, float]], failures: Sequence[float],
           marks: Sequence[tuple[float, str]], ylabel: str, title: str) -> bytes:
    """Per-operation latency over time with failed operations as red ticks (stateful tier)."""
    fig, ax = plt.subplots(figsize=(9, 4))
    if points:
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=2, label="ok")
    if failures:
        ax.scatter(failures, [0] * len(failures), s=8, color="red", marker="|", label="failed")
    for t, label in marks:
        ax.axvline(t, color="black", linestyle="--", linewidth=1)
        ax.annotate(label, (t, 0.95), xycoords=("data", "axes fraction"),
                    xytext=(3, 0), textcoords="offset points", fontsize="small")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("time since load start (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper right")
    return _png(fig)
