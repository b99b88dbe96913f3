"""Counters kept as plain ints on the hot path, rendered as Prometheus text at scrape time.

A prometheus_client call per request (label lookup, lock, float add) costs
more than the rest of the proxy's Python work for a small request, so the
data plane only bumps integers and fills histogram bucket arrays here; the
text exposition format is built when someone scrapes ``/_stateline/metrics``.
Each worker process reports its own counters (label ``worker``) — the
scraper sums them, the usual practice for pre-forked servers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

# Seconds; upper bounds of the latency histogram (a +Inf bucket follows).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)


class PoolMetrics:
    """Per-pool request counters and latency histogram."""

    __slots__ = ("by_class", "errors_local", "latency_buckets", "latency_count", "latency_sum",
                 "panic", "panics", "rate_limited", "retries", "tunnels_open", "upgrades")

    def __init__(self) -> None:
        self.by_class = [0, 0, 0, 0, 0, 0]  # index status // 100 (1xx..5xx)
        self.latency_buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.retries = 0
        self.rate_limited = 0
        self.panic = False  # routing ignores health (too few instances available)
        self.panics = 0  # times the pool entered panic
        self.errors_local: dict[str, int] = {}  # gateway-made error answers by code
        self.upgrades = 0  # 101s relayed: connections that became tunnels
        self.tunnels_open = 0  # of those, still open

    def observe(self, status: int, seconds: float) -> None:
        """Count one finished request (once per proxied request: see the bucket loop)."""
        self.by_class[status // 100 if status < 600 else 5] += 1
        # The first bound >= seconds (bisect_left's answer), looked for from the low end:
        # most requests fall in the first buckets, and compiled this loop is a few C
        # comparisons where a call to bisect costs hundreds of instructions.
        i = 0
        for bound in LATENCY_BUCKETS:
            if seconds <= bound:
                break
            i += 1
        self.latency_buckets[i] += 1
        self.latency_sum += seconds
        self.latency_count += 1


class UpstreamMetrics:
    """Per-instance counters and latency histogram (kept on the Upstream object).

    The histogram lets the dashboard show p50/p99 per instance, so one slow
    instance in a pool is visible instead of averaged away in the pool figure.
    """

    __slots__ = ("errors", "latency_buckets", "latency_sum", "requests")

    def __init__(self) -> None:
        self.requests = 0  # responses accounted; also the histogram's count
        self.errors: dict[str, int] = {}  # failure kind → count
        self.latency_buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0

    def observe(self, seconds: float) -> None:
        """Count one response from this instance, ``seconds`` after its request's head.

        One call per accounted response (the proxy's ``_account``): the same
        compiled bucket loop as ``PoolMetrics.observe``, no allocation.
        """
        i = 0
        for bound in LATENCY_BUCKETS:
            if seconds <= bound:
                break
            i += 1
        self.latency_buckets[i] += 1
        self.latency_sum += seconds
        self.requests += 1

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _labels(**labels: str) -> str:
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + inner + "}"


def render(pools: Iterable[tuple[str, PoolMetrics, Iterable[tuple[str, UpstreamMetrics, int]]]],
           connections: int, refused: int = 0) -> str:
    """Prometheus text format for all pools: (name, metrics, [(instance, metrics, ejections)])."""
    worker = str(os.getpid())
    out: list[str] = [
        "# HELP stateline_gateway_requests_total Requests answered, by pool and status class.",
        "# TYPE stateline_gateway_requests_total counter",
    ]
    lat: list[str] = [
        "# HELP stateline_gateway_request_duration_seconds Time from request head to response end.",
        "# TYPE stateline_gateway_request_duration_seconds histogram",
    ]
    retries = ["# HELP stateline_gateway_retries_total Retried upstream attempts.",
               "# TYPE stateline_gateway_retries_total counter"]
    limited = ["# HELP stateline_gateway_rate_limited_total Requests refused with 429.",
               "# TYPE stateline_gateway_rate_limited_total counter"]
    up_req = ["# HELP stateline_gateway_upstream_requests_total Responses per instance.",
              "# TYPE stateline_gateway_upstream_requests_total counter"]
    up_lat = ["# HELP stateline_gateway_upstream_duration_seconds Time from request head to "
              "the response from this instance being accounted, per instance.",
              "# TYPE stateline_gateway_upstream_duration_seconds histogram"]
    up_err = ["# HELP stateline_gateway_upstream_errors_total Upstream failures per instance.",
              "# TYPE stateline_gateway_upstream_errors_total counter"]
    panic = ["# HELP stateline_gateway_panic Whether a pool routes to all instances, ignoring "
             "health (too few available).",
             "# TYPE stateline_gateway_panic gauge"]
    panics = ["# HELP stateline_gateway_panics_total Times a pool entered panic routing.",
              "# TYPE stateline_gateway_panics_total counter"]
    eject = ["# HELP stateline_gateway_ejections_total Ejections per instance.",
             "# TYPE stateline_gateway_ejections_total counter"]
    upgrades = ["# HELP stateline_gateway_upgrades_total Upgrades (101) relayed: connections "
                "that became tunnels, such as WebSockets.",
                "# TYPE stateline_gateway_upgrades_total counter"]
    tunnels = ["# HELP stateline_gateway_tunnels_open Upgraded connections (tunnels) open now.",
               "# TYPE stateline_gateway_tunnels_open gauge"]
    for name, pm, upstreams in pools:
        for cls, n in enumerate(pm.by_class):
            if cls:
                out.append(f"stateline_gateway_requests_total"
                           f"{_labels(pool=name, code=f'{cls}xx', worker=worker)} {n}")
        cumulative = 0
        for bound, n in zip((*LATENCY_BUCKETS, "+Inf"), pm.latency_buckets, strict=True):
            cumulative += n
            lat.append(f"stateline_gateway_request_duration_seconds_bucket"
                       f"{_labels(pool=name, le=str(bound), worker=worker)} {cumulative}")
        lat.append(f"stateline_gateway_request_duration_seconds_sum"
                   f"{_labels(pool=name, worker=worker)} {pm.latency_sum:.6f}")
        lat.append(f"stateline_gateway_request_duration_seconds_count"
                   f"{_labels(pool=name, worker=worker)} {pm.latency_count}")
        retries.append(f"stateline_gateway_retries_total{_labels(pool=name, worker=worker)} "
                       f"{pm.retries}")
        limited.append(f"stateline_gateway_rate_limited_total{_labels(pool=name, worker=worker)} "
                       f"{pm.rate_limited}")
        panic.append(f"stateline_gateway_panic{_labels(pool=name, worker=worker)} "
                     f"{int(pm.panic)}")
        panics.append(f"stateline_gateway_panics_total{_labels(pool=name, worker=worker)} "
                      f"{pm.panics}")
        upgrades.append(f"stateline_gateway_upgrades_total{_labels(pool=name, worker=worker)} "
                        f"{pm.upgrades}")
        tunnels.append(f"stateline_gateway_tunnels_open{_labels(pool=name, worker=worker)} "
                       f"{pm.tunnels_open}")
        for inst, um, ejections in upstreams:
            labels = _labels(pool=name, instance=inst, worker=worker)
            up_req.append(f"stateline_gateway_upstream_requests_total{labels} {um.requests}")
            eject.append(f"stateline_gateway_ejections_total{labels} {ejections}")
            cumulative = 0
            for bound, n in zip((*LATENCY_BUCKETS, "+Inf"), um.latency_buckets, strict=True):
                cumulative += n
                up_lat.append(f"stateline_gateway_upstream_duration_seconds_bucket"
                              f"{_labels(pool=name, instance=inst, le=str(bound), worker=worker)}"
                              f" {cumulative}")
            up_lat.append(f"stateline_gateway_upstream_duration_seconds_sum{labels} "
                          f"{um.latency_sum:.6f}")
            up_lat.append(f"stateline_gateway_upstream_duration_seconds_count{labels} "
                          f"{um.requests}")
            for kind, n in sorted(um.errors.items()):
                up_err.append(f"stateline_gateway_upstream_errors_total"
                              f"{_labels(pool=name, instance=inst, kind=kind, worker=worker)} {n}")
    conns = ["# HELP stateline_gateway_client_connections Open client connections.",
             "# TYPE stateline_gateway_client_connections gauge",
             f"stateline_gateway_client_connections{_labels(worker=worker)} {connections}",
             "# HELP stateline_gateway_connections_refused_total Client connections refused "
             "at once over max_client_connections.",
             "# TYPE stateline_gateway_connections_refused_total counter",
             f"stateline_gateway_connections_refused_total{_labels(worker=worker)} {refused}"]
    return "\n".join([*out, *lat, *retries, *limited, *panic, *panics, *up_req, *up_lat, *up_err,
                      *eject,
                      *upgrades, *tunnels, *conns]) + "\n"
