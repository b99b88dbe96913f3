"""SqlStore: reads on a sync engine in threads give what the async engine gives, and never hang.

Real databases: SQLite files, an in-memory SQLite database (whose reads must stay on
the one async connection that holds it), and the session's PostgreSQL when present.
Every test has a timeout: a read that waited on a thread that cannot run must fail
the test, not stall the suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from stateline.stores import sql

pytestmark = pytest.mark.timeout(60)


def _run(url: str, body: Callable[[sql.SqlStore], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        db = sql.open_store(url)
        try:
            await sql.ensure_schema(db)
            return await body(db)
        finally:
            await asyncio.wait_for(db.dispose(), 10)
    return asyncio.run(main())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    import psycopg

    pg = str(request.getfixturevalue("postgres_url"))
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS users, rates")
    return pg


def test_reads_in_threads_match_the_async_engine(url: str) -> None:
    async def body(db: sql.SqlStore) -> None:
        assert db.reads is not None  # this store does read in threads
        made = [await sql.insert_user(db, f"u{i}", f"u{i}@x.org") for i in range(5)]
        for user in made:
            assert await sql.get_user(db, user.id) == await sql.get_user(db.engine, user.id) \
                == user
        assert await sql.get_user(db, 10**15) is None
        page = await sql.list_users(db, made[1].id, 2)
        assert page == await sql.list_users(db.engine, made[1].id, 2) == made[2:4]
        await sql.replace_rates(db, {"EUR": 1.0, "USD": 2.0}, date(2026, 11, 3))
        assert await sql.get_rates(db, ["USD", "XXX"]) == await sql.get_rates(db.engine,
                                                                             ["USD", "XXX"])
        assert set(await sql.all_rates(db)) == {"EUR", "USD"}
    _run(url, body)


def test_many_concurrent_reads_all_answer(url: str) -> None:
    async def body(db: sql.SqlStore) -> None:
        user = await sql.insert_user(db, "Ann", "ann@x.org")
        found = await asyncio.gather(*(sql.get_user(db, user.id) for _ in range(200)))
        assert found == [user] * 200
    _run(url, body)


def test_a_failing_read_raises_sqlalchemy_errors_as_before(url: str) -> None:
    async def body(db: sql.SqlStore) -> None:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE users"))
        with pytest.raises(sa_exc.DBAPIError):  # what errors.py maps to 503
            await sql.get_user(db, 1)
    _run(url, body)


def test_an_in_memory_database_reads_its_own_tables_without_hanging() -> None:
    async def body(db: sql.SqlStore) -> None:
        assert db.reads is None  # a second engine would open a second, empty database
        user = await sql.insert_user(db, "Mem", "mem@x.org")
        assert await sql.get_user(db, user.id) == user
        assert await asyncio.gather(*(sql.get_user(db, user.id) for _ in range(20))) \
            == [user] * 20
    _run("sqlite:///:memory:", body)


def test_dispose_returns_while_reads_are_queued(tmp_path: Path) -> None:
    async def main() -> None:
        db = sql.open_store(f"sqlite:///{tmp_path / 'q.db'}", threads=1)
        await sql.ensure_schema(db)
        user = await sql.insert_user(db, "Q", "q@x.org")
        reads = [asyncio.ensure_future(sql.get_user(db, user.id)) for _ in range(50)]
        await asyncio.sleep(0)
        await asyncio.wait_for(db.dispose(), 10)
        done = await asyncio.gather(*reads, return_exceptions=True)
        # Reads already running finish; queued ones are cancelled; none is left waiting.
        assert all(r == user or isinstance(r, asyncio.CancelledError | RuntimeError)
                   for r in done)
    asyncio.run(main())


def test_sqlite_point_reads_run_inline_with_the_engines_values(tmp_path: Path) -> None:
    """The inline read answers itself (no MISS) and gives what both engines give."""
    async def body(db: sql.SqlStore) -> None:
        assert db.inline is not None
        made = [await sql.insert_user(db, f"u{i}", f"u{i}@x.org") for i in range(3)]
        for user in made:
            rows = db.inline.rows(sql._USER_BY_ID, {"user_id": user.id})
            assert not isinstance(rows, sql._Miss) and len(rows) == 1
            assert await sql.get_user(db, user.id) == await sql.get_user(db.engine, user.id) \
                == user
        assert db.inline.rows(sql._USER_BY_ID, {"user_id": 10**15}) == []
        assert await sql.get_user(db, 10**15) is None
        # A commit made elsewhere is seen by the very next inline read (no held snapshot).
        async with db.engine.begin() as conn:
            await conn.execute(text("UPDATE users SET name = 'renamed' WHERE id = :i"),
                               {"i": made[0].id})
        renamed = await sql.get_user(db, made[0].id)
        assert renamed is not None and renamed.name == "renamed"
    _run(f"sqlite:///{tmp_path / 'inline.db'}", body)


def test_sqlite_inline_read_errors_take_the_thread_pool_and_its_errors(tmp_path: Path) -> None:
    """Out-of-range ids and a missing table: MISS inline, then the engine's answer as before."""
    async def body(db: sql.SqlStore) -> None:
        assert db.inline is not None
        too_big = {"user_id": 2**70}
        assert isinstance(db.inline.rows(sql._USER_BY_ID, too_big), sql._Miss)
        with pytest.raises(Exception) as before:
            await sql._rows(db, sql._USER_BY_ID, too_big)
        with pytest.raises(type(before.value)):
            await sql.get_user(db, 2**70)
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE users"))
        assert isinstance(db.inline.rows(sql._USER_BY_ID, {"user_id": 1}), sql._Miss)
        with pytest.raises(sa_exc.OperationalError):
            await sql.get_user(db, 1)
    _run(f"sqlite:///{tmp_path / 'inline.db'}", body)


def test_memory_and_postgres_stores_have_no_inline_reads(url: str) -> None:
    async def body(db: sql.SqlStore) -> None:
        assert (db.inline is not None) == url.startswith("sqlite")
    _run(url, body)
    mem = sql.open_store("sqlite:///:memory:")
    assert mem.inline is None
    asyncio.run(mem.dispose())
