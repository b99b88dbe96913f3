"""One Jepsen "set" client: add unique elements to one Redis set, log every outcome.

Run inside a host of the topology (``python -m stateline.lab.setwriter``), so
that it sits on one side of a partition, as an app instance there would. Each
``SADD`` of a new element (``PREFIX-N``) is one line of JSON in ``--out``:
``{"e", "t", "ok", "acked", "err"}`` with ``t`` the wall-clock time the write
was *answered* (the experiment's partition marks use the same clock; every
host shares this machine's). ``ok``: Redis answered; ``acked``: the client was
told the write is done: in ``wait`` mode only when ``WAIT 1`` confirms that a
replica has it. A write that failed or timed out is not acknowledged; if it
shows up in the final set anyway it was indeterminate, not lost.

The password comes from ``STATELINE_REDIS_PASSWORD`` (never argv).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import redis

from stateline.lab.cluster import CountingClient
from stateline.stores.redis import PASSWORD_ENV


def write_loop(client: CountingClient, key: str, prefix: str, mode: str, until: float,
               out: object, interval: float = 0.005, wait_ms: int = 500) -> int:
    """Write until wall-clock ``until``; returns the number of writes attempted."""
    n = 0
    while time.time() < until:
        elem = f"{prefix}-{n}"
        ok = acked = False
        err = ""
        try:
            if mode == "wait":
                _, replicas = client.pipeline([("SADD", key, elem), ("WAIT", 1, wait_ms)],
                                              key=key.encode())
                ok, acked = True, int(replicas) >= 1
            else:
                client.execute("SADD", key, elem, key=key.encode())
                ok = acked = True
        except (redis.RedisError, OSError) as exc:
            err = type(exc).__name__ + ": " + str(exc)[:80]
        print(json.dumps({"e": elem, "t": time.time(), "ok": ok, "acked": acked, "err": err}),
              file=out, flush=True)  # type: ignore[call-overload]
        if not ok:
            with contextlib.suppress(redis.RedisError, OSError):
                client.refresh()  # learn a promotion (or keep trying the old master)
            time.sleep(0.05)
        n += 1
        time.sleep(interval)
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", required=True, help="host:port,host:port of cluster nodes")
    ap.add_argument("--key", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--mode", choices=("plain", "wait"), default="plain")
    ap.add_argument("--until", type=float, required=True, help="wall-clock time to stop")
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=float, default=0.3)
    args = ap.parse_args(argv)
    password = os.environ.get(PASSWORD_ENV)
    seeds = args.seeds.split(",")
    deadline = time.monotonic() + 10
    while True:
        try:
            client = CountingClient(seeds, timeout=args.timeout, password=password)
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with open(args.out, "w") as out:
        n = write_loop(client, args.key, args.prefix, args.mode, args.until, out)
    client.close()
    print(f"setwriter {args.prefix}: {n} writes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
