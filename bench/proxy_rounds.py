#!/usr/bin/env python3
"""The gateway/nginx throughput ratio as a median of many interleaved rounds, with its spread.

One run of ``../shared/bench/proxy_ratio.py`` gives a ratio that moves by
tens of percent on a shared 2-core machine (nginx itself swings by 30 %
between runs). This wrapper runs the same comparison — the harness's own
nginx/HAProxy configurations, its core pinning (``taskset``: every proxy on
core 0, wrk and the static nginx backend on core 1) and its wrk runs, imported
from the harness — as ``--rounds`` interleaved rounds (at least 7): in each
round every proxy gets one wrk run, in an order that rotates from round to
round, so a burst of load from elsewhere, or a position in the round, favours
no one. Each round gives one ratio per proxy and reference; printed are their
median, min–max and interquartile range, and the load average before and after.
It also reads each proxy's CPU time (user + system, from /proc) around its
wrk runs: CPU per request moves far less with the machine's load than req/s
does, so its ratio is the steadier figure on a shared machine.

Several gateways can be compared in the same rounds (``--proxy NAME=CMD``,
repeatable), e.g. the working tree against a snapshot of ``src/`` from before
a change::

    .venv/bin/python bench/proxy_rounds.py                       # gateway vs nginx, haproxy
    .venv/bin/python bench/proxy_rounds.py --rounds 9 --seconds 5 \\
        --proxy 'before=env PYTHONPATH=/tmp/base/src {stateline} gateway \\
                 --listen {listen} --backend {backend}' \\
        --proxy 'after={stateline} gateway --listen {listen} --backend {backend}'

``{listen}`` (HOST:PORT), ``{backend}`` (URL) and ``{stateline}`` (this
venv's ``stateline``) are filled in. One line per proxy and reference, for scripts:
``gateway/nginx median ratio: 0.87 (IQR 0.83-0.90, min-max 0.78-0.93, 7 rounds)``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from proxy import HARNESS, cpu_seconds, with_children  # bench/proxy.py, beside this file

STATELINE = str(Path(sys.executable).parent / "stateline")
DEFAULT_PROXY = ("gateway={stateline} gateway --listen {listen} --backend {backend} "
                 "--log-level warning")
REFERENCES = ("nginx", "haproxy")


def load_harness(path: Path) -> ModuleType:
    """The shared harness as a module: its configurations, pinning and wrk runner."""
    spec = importlib.util.spec_from_file_location("proxy_ratio", path)
    if spec is None or spec.loader is None:
        sys.exit(f"cannot load the harness at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles (inclusive method) and extremes of a list of per-round figures."""
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q1 = q3 = values[0]
    return {"median": statistics.median(values), "q1": q1, "q3": q3,
            "min": min(values), "max": max(values)}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def rotated(names: list[str], k: int) -> list[str]:
    k %= len(names)
    return names[k:] + names[:k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--proxy", action="append", metavar="NAME=CMD",
                    help="a proxy to measure (repeatable); default: the gateway")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (at least 7)")
    ap.add_argument("--seconds", type=int, default=8, help="wrk seconds per proxy per round")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--no-haproxy", action="store_true", help="nginx as the only reference")
    ap.add_argument("--harness", type=Path, default=HARNESS)
    args = ap.parse_args()
    if args.rounds < 7:
        ap.error("--rounds must be at least 7 (the figure is a median of interleaved rounds)")
    h = load_harness(args.harness)
    h.ensure("nginx", "nginx-light")
    h.ensure("wrk", "wrk")
    refs = [r for r in REFERENCES if not (r == "haproxy" and args.no_haproxy)]
    if "haproxy" in refs:
        h.ensure("haproxy", "haproxy")
    proxies: dict[str, str] = {}
    for spec in args.proxy or [DEFAULT_PROXY]:
        name, sep, cmd = spec.partition("=")
        if not sep or not name or name in REFERENCES or name in proxies:
            ap.error(f"--proxy wants a new NAME=CMD, not {spec!r}")
        proxies[name] = cmd

    load_before = load_average()
    print(f"load average before: {load_before}", flush=True)
    with tempfile.TemporaryDirectory(prefix="proxy-rounds-") as d:
        bport = h.free_port()
        Path(d, "static.conf").write_text(h.NGINX_STATIC.format(d=d, port=bport))
        procs = [h.start(["nginx", "-p", d, "-c", f"{d}/static.conf"], "1")]
        urls: dict[str, str] = {}
        try:
            h.wait_http(f"http://127.0.0.1:{bport}/ping")
            port = h.free_port()
            Path(d, "proxy.conf").write_text(h.NGINX_PROXY.format(
                d=d, backend=f"127.0.0.1:{bport}", listen=f"127.0.0.1:{port}"))
            procs.append(h.start(["nginx", "-p", d, "-c", f"{d}/proxy.conf"], "0"))
            urls["nginx"] = f"http://127.0.0.1:{port}/ping"
            if "haproxy" in refs:
                port = h.free_port()
                Path(d, "haproxy.cfg").write_text(h.HAPROXY.format(
                    backend=f"127.0.0.1:{bport}", listen=f"127.0.0.1:{port}"))
                procs.append(h.start(["haproxy", "-db", "-f", f"{d}/haproxy.cfg"], "0"))
                urls["haproxy"] = f"http://127.0.0.1:{port}/ping"
            for name, template in proxies.items():
                port = h.free_port()
                cmd = template.format(listen=f"127.0.0.1:{port}",
                                      backend=f"http://127.0.0.1:{bport}", stateline=STATELINE)
                procs.append(h.start(cmd, "0", shell=True))
                urls[name] = f"http://127.0.0.1:{port}/ping"
            for url in urls.values():
                h.wait_http(url)
                h.wrk(url, 2, args.connections)  # warm-up
            # the proxies' processes, in the order of urls (procs[0] is the static backend)
            trees = {name: with_children(p.pid) for name, p in zip(urls, procs[1:], strict=True)}
            rps: dict[str, list[float]] = {name: [] for name in urls}
            cpu: dict[str, list[float]] = {name: [] for name in urls}  # µs per request
            order = list(urls)
            for k in range(args.rounds):
                for name in rotated(order, k):
                    before = cpu_seconds(trees[name])
                    rate = h.wrk(urls[name], args.seconds, args.connections)[0]
                    used = cpu_seconds(trees[name]) - before
                    rps[name].append(rate)
                    cpu[name].append(used / max(rate * args.seconds, 1.0) * 1e6)
                line = "  ".join(f"{n} {rps[n][-1]:7.0f}" for n in order)
                print(f"round {k + 1}/{args.rounds}: {line}   (load {load_average()})",
                      flush=True)
        finally:
            for p in reversed(procs):
                h.stop(p)
    load_after = load_average()

    print(f"\n{args.rounds} interleaved rounds, {args.seconds} s each, wrk -c{args.connections}; "
          "core 0: proxies, core 1: wrk + static backend")
    print(f"load average before {load_before}, after {load_after}")
    print(f"{'':<10} {'median req/s':>12} {'min':>8} {'max':>8}   {'CPU µs/request':>14} "
          f"{'min':>6} {'max':>6}")
    for name in urls:
        s, c = spread(rps[name]), spread(cpu[name])
        print(f"{name:<10} {s['median']:12.0f} {s['min']:8.0f} {s['max']:8.0f}   "
              f"{c['median']:14.1f} {c['min']:6.1f} {c['max']:6.1f}")
    for name in proxies:
        for ref in refs:
            ratios = [p / r for p, r in zip(rps[name], rps[ref], strict=True)]
            s = spread(ratios)
            print(f"  per round {name}/{ref}: {[round(x, 2) for x in ratios]}")
            print(f"{name}/{ref} median ratio: {s['median']:.2f} "
                  f"(IQR {s['q1']:.2f}-{s['q3']:.2f}, min-max {s['min']:.2f}-{s['max']:.2f}, "
                  f"{args.rounds} rounds)")
    print("CPU per request (the proxy's own user+system time over the requests wrk counted):"
          " steadier than req/s on a loaded machine, and a ratio > 1 means less CPU than the"
          " reference")
    for name in proxies:
        for ref in refs:
            ratios = [r / p for p, r in zip(cpu[name], cpu[ref], strict=True) if p > 0]
            if not ratios:
                continue
            s = spread(ratios)
            print(f"{ref}/{name} CPU-per-request ratio: {s['median']:.2f} "
                  f"(IQR {s['q1']:.2f}-{s['q3']:.2f}, min-max {s['min']:.2f}-{s['max']:.2f})")
    for name in list(proxies)[1:]:
        first = next(iter(proxies))
        ratios = [p / r for p, r in zip(rps[name], rps[first], strict=True)]
        s = spread(ratios)
        print(f"{name}/{first} median ratio: {s['median']:.3f} "
              f"(IQR {s['q1']:.3f}-{s['q3']:.3f}, min-max {s['min']:.3f}-{s['max']:.3f})")


if __name__ == "__main__":
    main()
