"""What a load run saw: latencies, errors by kind, requests per instance, per second.

The generator calls :meth:`Recorder.response` / :meth:`Recorder.error` once per
request; everything else (summaries, the per-second timeline used by the plots,
JSON) is derived here, without I/O, so that experiments and tests can build
recorders from synthetic data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stateline.lab.histogram import Histogram

#: Error kinds that are not an HTTP status: the request got no (usable) response.
TRANSPORT_ERRORS = ("connect", "timeout", "reset", "bad_response")


@dataclass
class Second:
    """One timeline bucket of a run (by completion time; one second unless chosen finer)."""

    requests: int = 0
    errors: int = 0
    latency: Histogram = field(default_factory=Histogram)
    instances: dict[str, int] = field(default_factory=dict)

    def to_json(self, t: float) -> dict[str, Any]:
        return {
            "t": round(t, 3),
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": round(self.latency.percentile(50) * 1e3, 3),
            "p99_ms": round(self.latency.percentile(99) * 1e3, 3),
            "max_ms": round(self.latency.max_us / 1e3, 3),
            "instances": dict(sorted(self.instances.items())),
        }


class Recorder:
    """Counts of one run. Times are seconds since the start of the run."""

    def __init__(self, resolution: float = 1.0) -> None:
        if resolution <= 0:
            raise ValueError("resolution must be positive")
        #: Width in seconds of one timeline bucket (experiments use 0.1 s to see recoveries).
        self.resolution = resolution
        self.latency = Histogram()
        self.errors: dict[str, int] = {}
        self.instances: dict[str, int] = {}
        self.seconds: list[Second] = []
        self.ok = 0
        self.failed = 0

    def _second(self, t: float) -> Second:
        i = int(t / self.resolution) if t > 0 else 0
        seconds = self.seconds
        while len(seconds) <= i:
            seconds.append(Second())
        return seconds[i]

    def response(self, t: float, latency: float, ok: bool, status: int,
                 instance: str | None) -> None:
        """A response arrived at ``t`` after ``latency`` seconds (from the intended send)."""
        sec = self._second(t)
        sec.requests += 1
        sec.latency.record(latency)
        self.latency.record(latency)
        if instance is not None:
            self.instances[instance] = self.instances.get(instance, 0) + 1
            sec.instances[instance] = sec.instances.get(instance, 0) + 1
        if ok:
            self.ok += 1
        else:
            self._count_error(sec, f"http_{status}")

    def error(self, t: float, kind: str) -> None:
        """A request failed without a response (``connect``, ``timeout``, ``reset``...)."""
        sec = self._second(t)
        sec.requests += 1
        self._count_error(sec, kind)

    def _count_error(self, sec: Second, kind: str) -> None:
        sec.errors += 1
        self.failed += 1
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def requests(self) -> int:
        return self.ok + self.failed

    def recent(self, now: float, window: int = 1) -> dict[str, float]:
        """Rate, errors/s, p50 and p99 over the last complete ``window`` seconds, and all
        errors so far (what a progress display shows)."""
        per_second = round(1 / self.resolution) or 1
        end = int(now / self.resolution)
        parts = self.seconds[max(0, end - window * per_second) : end] or self.seconds[-1:]
        h = Histogram.merged(s.latency for s in parts)
        span = max(1, len(parts)) * self.resolution
        return {
            "rate": sum(s.requests for s in parts) / span,
            "errors": self.failed,
            "error_rate": sum(s.errors for s in parts) / span,
            "p50_ms": h.percentile(50) * 1e3,
            "p99_ms": h.percentile(99) * 1e3,
        }

    def to_json(self, duration: float) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "failed": self.failed,
            "duration_s": round(duration, 3),
            "throughput_rps": round(self.requests / duration, 1) if duration > 0 else 0.0,
            "latency": self.latency.summary(),
            "errors": dict(sorted(self.errors.items())),
            "instances": dict(sorted(self.instances.items())),
            "resolution_s": self.resolution,
            "timeline": [s.to_json(i * self.resolution) for i, s in enumerate(self.seconds)],
            "histogram": self.latency.to_json(),
        }
