"""Picks per second for each balancer, and PoolHealth's hot-path calls per second.

Prints one line per case. Numbers depend on the machine and on what else is
running; compare them only within one run. Usage:

    .venv/bin/python bench/balancers.py [--members 3] [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

from stateline.gateway.balancers import POLICIES, create_balancer
from stateline.gateway.balancers.keys import KeySource
from stateline.gateway.health import Outcome, PoolHealth


@dataclass
class Node:
    id: str
    weight: int = 1
    outstanding: int = 0


def rate(step: Callable[[int], object], seconds: float) -> float:
    """Calls per second of ``step(i)``, measured in batches for at least ``seconds``."""
    batch = 10_000
    calls = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        for i in range(calls, calls + batch):
            step(i)
        calls += batch
        elapsed = time.perf_counter() - start
    return calls / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--keys", type=int, default=100_000,
                        help="distinct routing keys cycled through (cache pressure)")
    args = parser.parse_args()

    pool = [Node(f"app-{i}") for i in range(1, args.members + 1)]
    weighted = [Node(n.id, weight=i + 1) for i, n in enumerate(pool)]
    keys = [f"user-{i}".encode() for i in range(args.keys)]
    hot = keys[:100]
    n_keys = len(keys)
    print(f"# {args.members} members, {args.seconds:.1f} s per case")

    for policy in POLICIES:
        for label, members in (("equal", pool), ("weighted", weighted)):
            balancer = create_balancer(policy)
            pick = balancer.pick
            if balancer.needs_key:
                r_hot = rate(lambda i, p=pick, m=members: p(m, hot[i % 100]), args.seconds)
                b2 = create_balancer(policy)
                r_cold = rate(lambda i, p=b2.pick, m=members: p(m, keys[i % n_keys]),
                              args.seconds)
                print(f"{policy:18} {label:8} {r_hot:12,.0f} picks/s (100 hot keys)  "
                      f"{r_cold:12,.0f} picks/s ({n_keys:,} keys)")
            else:
                r = rate(lambda i, p=pick, m=members: p(m), args.seconds)
                print(f"{policy:18} {label:8} {r:12,.0f} picks/s")

    source = KeySource.parse("header:x-user-id")
    headers = [(b"host", b"example"), (b"accept", b"*/*"), (b"x-user-id", b"user-42")]
    r = rate(lambda i: source.extract(b"/carts/42", headers), args.seconds)
    print(f"{'key header':27} {r:12,.0f} extracts/s")

    health = PoolHealth()
    for n in pool:
        health.add(n.id)
    ids = [n.id for n in pool]
    m = len(ids)
    r = rate(lambda i: health.record(ids[i % m], Outcome.SUCCESS, 0.0), args.seconds)
    print(f"{'health record(SUCCESS)':27} {r:12,.0f} calls/s")
    r = rate(lambda i: health.available_ids(), args.seconds)
    print(f"{'health available_ids()':27} {r:12,.0f} calls/s")
    r = rate(lambda i: health.tick(float(i)), args.seconds)
    print(f"{'health tick() idle':27} {r:12,.0f} calls/s")


if __name__ == "__main__":
    main()
