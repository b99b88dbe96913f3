"""The gateway's public ``/_stateline/metrics`` as per-instance and per-pool numbers.

The dashboard turns two scrapes a second apart into requests/s and into
p50/p99 of the requests answered in between (from the latency histograms'
bucket deltas: per pool, and per instance from
``stateline_gateway_upstream_duration_seconds``), so the page shows now,
not the average since start.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

_LINE = re.compile(r'^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Scrape:
    """Counters of one scrape, summed over the gateway's workers."""

    requests: dict[str, float] = field(default_factory=dict)  # instance -> responses
    errors: dict[str, float] = field(default_factory=dict)  # instance -> failures
    pool_requests: dict[str, float] = field(default_factory=dict)
    pool_errors: dict[str, float] = field(default_factory=dict)  # 5xx answers
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)  # pool -> le -> n
    # instance -> le -> n (the per-instance latency histogram)
    instance_buckets: dict[str, dict[float, float]] = field(default_factory=dict)


def _le(labels: dict[str, str]) -> float:
    return float("inf") if labels.get("le") == "+Inf" else float(labels.get("le", "0"))


def parse(text: str) -> Scrape:
    s = Scrape()
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        labels = dict(_LABEL.findall(m["labels"]))
        try:
            value = float(m["value"])
        except ValueError:
            continue
        name, pool = m["name"], labels.get("pool", "")
        inst = labels.get("instance", "")
        if name == "stateline_gateway_upstream_requests_total":
            s.requests[inst] = s.requests.get(inst, 0.0) + value
        elif name == "stateline_gateway_upstream_errors_total":
            s.errors[inst] = s.errors.get(inst, 0.0) + value
        elif name == "stateline_gateway_requests_total":
            s.pool_requests[pool] = s.pool_requests.get(pool, 0.0) + value
            if labels.get("code") == "5xx":
                s.pool_errors[pool] = s.pool_errors.get(pool, 0.0) + value
        elif name == "stateline_gateway_request_duration_seconds_bucket":
            le = _le(labels)
            b = s.buckets.setdefault(pool, {})
            b[le] = b.get(le, 0.0) + value
        elif name == "stateline_gateway_upstream_duration_seconds_bucket":
            le = _le(labels)
            b = s.instance_buckets.setdefault(inst, {})
            b[le] = b.get(le, 0.0) + value
    return s


def quantile(cumulative: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` (seconds); None with no data."""
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return None
    want = q * cumulative[bounds[-1]]
    for le in bounds:
        if cumulative[le] >= want:
            return le if le != float("inf") else bounds[-2] if len(bounds) > 1 else None
    return None


def _window_ms(before: Scrape | None, prev: dict[float, float],
               now: dict[float, float]) -> tuple[float | None, float | None]:
    """p50/p99 (ms) of the requests counted between two scrapes of one histogram."""
    delta = {le: n - prev.get(le, 0.0) for le, n in now.items()}
    window = delta if before and any(v > 0 for v in delta.values()) else {}
    p50, p99 = quantile(window, 0.5), quantile(window, 0.99)
    return (None if p50 is None else p50 * 1000, None if p99 is None else p99 * 1000)


def rates(before: Scrape | None, after: Scrape, seconds: float) -> dict[str, object]:
    """Per-instance and per-pool req/s, errors and p50/p99 (ms) between two scrapes."""
    dt = max(seconds, 1e-3)
    prev = before or Scrape()
    instances: dict[str, dict[str, float | None]] = {}
    for inst, n in after.requests.items():
        p50_ms, p99_ms = _window_ms(before, prev.instance_buckets.get(inst, {}),
                                    after.instance_buckets.get(inst, {}))
        instances[inst] = {
            "rps": max(0.0, n - prev.requests.get(inst, 0.0)) / dt if before else 0.0,
            "requests": n, "errors": after.errors.get(inst, 0.0),
            "p50_ms": p50_ms, "p99_ms": p99_ms}
    for inst, n in after.errors.items():
        instances.setdefault(inst, {"rps": 0.0, "requests": 0.0, "errors": n,
                                    "p50_ms": None, "p99_ms": None})
    pools: dict[str, object] = {}
    for pool, total in after.pool_requests.items():
        p50_ms, p99_ms = _window_ms(before, prev.buckets.get(pool, {}),
                                    after.buckets.get(pool, {}))
        pools[pool] = {
            "rps": max(0.0, total - prev.pool_requests.get(pool, 0.0)) / dt if before else 0.0,
            "requests": total, "errors_5xx": after.pool_errors.get(pool, 0.0),
            "p50_ms": p50_ms, "p99_ms": p99_ms}
    return {"instances": instances, "pools": pools}


async def fetch(port: int, timeout: float = 1.0) -> str | None:
    """GET the gateway's metrics over plain HTTP/1.0; None when it does not answer."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(b"GET /_stateline/metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        data = await asyncio.wait_for(reader.read(-1), timeout)
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
        return None
    return body.decode("utf-8", "replace")
