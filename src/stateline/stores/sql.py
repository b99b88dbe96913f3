"""The SQL store: SQLAlchemy Core on asyncio, SQLite or PostgreSQL by URL.

Accepted URLs (``STATELINE_DATABASE_URL``): ``sqlite:///path/to/file.db``
(relative or absolute; the embedded default), ``postgresql://user@host:port/db``
(also ``postgres://``); explicit driver URLs such as ``sqlite+aiosqlite://`` and
``postgresql+psycopg://`` pass through unchanged.

Two tables: ``users`` (id, name, email UNIQUE, created_at) and ``rates``
(currency, rate, as_of). The schema is created by every app instance at start,
so creation must be idempotent and safe when several instances start at once:
``CREATE TABLE IF NOT EXISTS`` under a transaction-scoped advisory lock on
PostgreSQL (two concurrent ``IF NOT EXISTS`` can otherwise both try to create
the table's row type and one fails), and under SQLite's busy timeout, with the
database in WAL mode so readers do not block the writer.

Reads take a shorter road than writes (:class:`SqlStore`, issue 16): a point
read through SQLAlchemy's async engine cost an app instance about 0.5 ms of CPU
on SQLite (py-spy: aiosqlite's thread hop and queue per statement, the async
adapter's greenlet switches, the async pool), against microseconds for the read
itself. So reads run SQLAlchemy Core on a *sync* engine in a small bounded
thread pool -- one thread hop per read, the same statements, the same rows and
the same ``sqlalchemy.exc`` errors -- while schema creation and writes stay on
the async engine. A ``:memory:`` SQLite database exists once per connection,
so there a second engine would see another, empty database: its reads stay on
the async engine (one connection, as before). On a SQLite file the user-by-id
read goes one step further and runs inline on the event loop
(:class:`SqliteInline`: busy timeout 0, any error falls back to the threads).

Stores hold no policy: this module runs statements and maps the two dialects'
duplicate-key errors to :class:`DuplicateError`; validation and HTTP live in the
services.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    event,
    func,
    insert,
    make_url,
    select,
    text,
)
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateTable

#: SQLite waits this long for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Arbitrary constant naming stateline's schema lock among PostgreSQL advisory locks.
_PG_SCHEMA_LOCK = 0x5747_1E00

metadata = MetaData()

users = Table(
    "users",
    metadata,
    # BigInteger for PostgreSQL, but a plain INTEGER PRIMARY KEY on SQLite (its rowid alias).
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

rates = Table(
    "rates",
    metadata,
    Column("currency", String(3), primary_key=True),
    Column("rate", Float, nullable=False),
    Column("as_of", Date, nullable=False),
)


class DuplicateError(Exception):
    """An insert hit a UNIQUE constraint (either dialect)."""


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    email: str
    created_at: datetime


@dataclass(frozen=True)
class RateRow:
    currency: str
    rate: float
    as_of: date


def normalise_url(url: str) -> str:
    """The SQLAlchemy async URL for a user-facing database URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r} (want sqlite:///path or postgresql://...)")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if scheme in ("sqlite+aiosqlite", "postgresql+psycopg"):
        return f"{scheme}://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r} (want sqlite or postgresql)")


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (``None`` for other databases or ``:memory:``)."""
    normal = normalise_url(url)
    if not normal.startswith("sqlite+aiosqlite:///"):
        return None
    path = normal.removeprefix("sqlite+aiosqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous = NORMAL")
        _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent: done once per file, checked per connection).

    Switching needs a moment of exclusive access, and SQLite answers "database is
    locked" at once rather than waiting on its busy timeout when several
    processes open a new file together, so the switch is retried briefly. This
    runs at most a few times per file, at the first start.

    A database that cannot be in WAL mode -- ``:memory:``, whose journal mode
    stays ``memory`` -- answers the switch with its own mode and no error; it is
    left as it is (asking again forever is how ``:memory:`` used to hang).
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            answer = cursor.fetchall()
            if answer and str(answer[0][0]).lower() in ("wal", "memory"):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"SQLite kept journal mode {answer!r}; want WAL")
        except Exception as exc:  # the driver's OperationalError, wrapped by the adapter
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def sqlite_problem(url: str) -> str | None:
    """Why the SQLite file of ``url`` cannot be made (its directory is missing), or None.

    A configured path is never given directories that do not exist: a typo in
    ``STATELINE_DATABASE_URL`` must be an error, not a new tree somewhere.
    """
    path = sqlite_file(url)
    if path is None or path.parent.is_dir():
        return None
    return (f"the directory {path.parent} of the SQLite file {path.name} does not exist; "
            "create it, or fix STATELINE_DATABASE_URL")


def create_engine(url: str, pool_size: int = 5, create_dir: bool = False) -> AsyncEngine:
    """An engine for ``url``; SQLite files get WAL mode and a busy timeout.

    The SQLite file's directory must exist unless ``create_dir`` (the embedded
    default, inside stateline's own data dir): then it is made, 0700.
    """
    normal = normalise_url(url)
    if normal.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None and create_dir:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        elif problem := sqlite_problem(url):
            raise ValueError(problem)
        engine = create_async_engine(normal)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(normal, pool_size=pool_size, pool_pre_ping=True)


#: Threads (and pooled connections) serving one instance's reads: enough to overlap
#: PostgreSQL round trips and SQLite's rare busy waits, few enough that a slow
#: database queues reads here instead of opening ever more connections.
READ_THREADS = 4


class _Miss:
    """The answer "take the thread pool": the inline read could not answer for sure."""


MISS = _Miss()


class SqliteInline:
    """Primary-key point reads of a SQLite *file* run inline on the event loop.

    Why (issue 16, ``docs/performance.md``): with the sync engine in threads a
    ``GET /api/users/{id}`` still cost ~200 µs of CPU, mostly the thread hop
    (submit, worker wake-up, result hand-back, the loop's wake-up) and
    SQLAlchemy's per-execution work, for a read that SQLite answers in a few
    microseconds from the page cache. A rowid lookup cannot run long, and in WAL
    mode a reader never waits for a writer, so it is run here, on the loop
    thread, through the driver's cursor with the statement SQLAlchemy compiled
    once and SQLAlchemy's own result processors for the columns (the same
    values as the engine gives).

    Bounded: the connection's busy timeout is 0, so the loop never waits on a
    lock. Any error -- ``SQLITE_BUSY`` in WAL's rare reader cases, a missing
    table, an id out of SQLite's range -- answers :data:`MISS`, and the caller
    reads through the thread pool exactly as before (10 s busy timeout, the
    ``sqlalchemy.exc`` errors the services map to 503). Only statements given to
    :meth:`prepare` (point reads by primary key) take this road.
    """

    def __init__(self, reads: Engine) -> None:
        self._reads = reads
        self._conn: sqlite3.Connection | None = None
        self._prepared: dict[Any, tuple[str, tuple[str, ...], list[Any]]] = {}

    def prepare(self, stmt: Any) -> None:
        """Compile ``stmt`` once for the driver; remember its bind order and column processors."""
        dialect = self._reads.dialect
        compiled = stmt.compile(dialect=dialect)
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                      for column in stmt.selected_columns]
        self._prepared[stmt] = (str(compiled), tuple(compiled.positiontup or ()), processors)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            args, kwargs = self._reads.dialect.create_connect_args(self._reads.url)
            # Only the event loop's thread uses it; autocommit: each SELECT is its own
            # read transaction and sees the latest commit, as a fresh pooled read does.
            kwargs = {**kwargs, "check_same_thread": False, "isolation_level": None}
            conn = sqlite3.connect(*args, **kwargs)
            conn.execute("PRAGMA busy_timeout = 0")
            self._conn = conn
        return self._conn

    def rows(self, stmt: Any, params: dict[str, Any]) -> list[tuple[Any, ...]] | _Miss:
        """The processed rows of prepared ``stmt``, or :data:`MISS` on any error."""
        sql_text, order, processors = self._prepared[stmt]
        try:
            cursor = self._connection().execute(sql_text, tuple(params[k] for k in order))
            try:
                raw = cursor.fetchall()
            finally:
                cursor.close()
        except Exception:  # the thread pool answers it, with SQLAlchemy's errors
            return MISS
        return [tuple(value if proc is None else proc(value)
                      for proc, value in zip(processors, row, strict=True)) for row in raw]

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class SqlStore:
    """The app's SQL store: the async engine for writes, a sync engine in threads for reads.

    ``reads`` is ``None`` for a ``:memory:`` SQLite database (see the module
    docstring); then every statement uses ``engine``. ``inline`` (SQLite files
    only) answers primary-key point reads on the loop (:class:`SqliteInline`).
    """

    def __init__(self, engine: AsyncEngine, reads: Engine | None, threads: int,
                 inline: SqliteInline | None = None) -> None:
        self.engine = engine
        self.reads = reads
        self.inline = inline
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="sql-read") \
            if reads is not None else None

    async def rows(self, stmt: Any, params: dict[str, Any] | None = None) -> list[Any]:
        """All rows of one read-only statement."""
        if self._pool is None:
            async with self.engine.connect() as conn:
                return list(await conn.execute(stmt, params))
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._rows, stmt, params)

    def _rows(self, stmt: Any, params: dict[str, Any] | None) -> list[Any]:
        assert self.reads is not None
        with self.reads.connect() as conn:
            return list(conn.execute(stmt, params))

    async def dispose(self) -> None:
        """Close both engines; reads queued but not started are cancelled."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self.inline is not None:
            self.inline.close()
        if self.reads is not None:
            self.reads.dispose()
        await self.engine.dispose()


Database = SqlStore | AsyncEngine


def _engine(db: Database) -> AsyncEngine:
    return db.engine if isinstance(db, SqlStore) else db


async def _rows(db: Database, stmt: Any, params: dict[str, Any] | None = None) -> list[Any]:
    if isinstance(db, SqlStore):
        return await db.rows(stmt, params)
    async with db.connect() as conn:
        return list(await conn.execute(stmt, params))


def open_store(url: str, create_dir: bool = False, threads: int = READ_THREADS) -> SqlStore:
    """The :class:`SqlStore` for ``url`` (``create_dir`` as in :func:`create_engine`)."""
    engine = create_engine(url, pool_size=max(5, threads), create_dir=create_dir)
    normal = make_url(normalise_url(url))
    if normal.get_backend_name() == "sqlite":
        if sqlite_file(url) is None:
            return SqlStore(engine, None, threads)
        reads = create_sync_engine(normal.set(drivername="sqlite+pysqlite"),
                                   pool_size=threads, max_overflow=0)
        event.listen(reads, "connect", _sqlite_pragmas)
        inline = SqliteInline(reads)
        inline.prepare(_USER_BY_ID)
        return SqlStore(engine, reads, threads, inline)
    else:
        reads = create_sync_engine(normal, pool_size=threads, max_overflow=0,
                                   pool_pre_ping=True)
    return SqlStore(engine, reads, threads)


async def ensure_schema(db: Database) -> None:
    """Create the tables if missing; safe to run from several processes at once."""
    async with _engine(db).begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SCHEMA_LOCK})
        for table in metadata.sorted_tables:
            # IF NOT EXISTS in the statement itself: a check-then-create would race.
            await conn.execute(CreateTable(table, if_not_exists=True))


async def ping(db: Database) -> None:
    async with _engine(db).connect() as conn:
        await conn.execute(text("SELECT 1"))


# users ----------------------------------------------------------------------------


class _Fields(NamedTuple):
    """One inline-read users row, by name like SQLAlchemy's ``Row``."""

    id: int
    name: str
    email: str
    created_at: datetime


def _user(row: Any) -> UserRow:
    created = row.created_at
    # SQLite keeps no zone (we only ever write UTC); PostgreSQL answers in the session's zone.
    created = created.replace(tzinfo=UTC) if created.tzinfo is None else created.astimezone(UTC)
    return UserRow(id=row.id, name=row.name, email=row.email, created_at=created)


async def insert_user(db: Database, name: str, email: str) -> UserRow:
    """Insert a user; :class:`DuplicateError` when the email is taken."""
    now = datetime.now(UTC).replace(microsecond=0)
    stmt = insert(users).values(name=name, email=email, created_at=now).returning(*users.c)
    try:
        async with _engine(db).begin() as conn:
            row = (await conn.execute(stmt)).one()
    except IntegrityError as exc:
        raise DuplicateError(str(exc.orig)) from None
    return _user(row)


#: Built once: building the statement and its cache key per call was a fifth of a
#: read's CPU (py-spy); SQLAlchemy memoises both on the statement object.
_USER_BY_ID = select(users).where(users.c.id == bindparam("user_id"))


async def get_user(db: Database, user_id: int) -> UserRow | None:
    params = {"user_id": user_id}
    if isinstance(db, SqlStore) and db.inline is not None:
        inline = db.inline.rows(_USER_BY_ID, params)
        if not isinstance(inline, _Miss):
            return _user(_Fields(*inline[0])) if inline else None
    found = await _rows(db, _USER_BY_ID, params)
    return _user(found[0]) if found else None


async def list_users(db: Database, after: int | None, limit: int) -> list[UserRow]:
    """Up to ``limit`` users with id greater than ``after``, by id (keyset pagination)."""
    stmt = select(users).order_by(users.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(users.c.id > after)
    return [_user(row) for row in await _rows(db, stmt)]


# rates ----------------------------------------------------------------------------


async def get_rates(db: Database, currencies: list[str]) -> dict[str, RateRow]:
    stmt = select(rates).where(rates.c.currency.in_(currencies))
    return {row.currency: RateRow(row.currency, row.rate, row.as_of)
            for row in await _rows(db, stmt)}


async def all_rates(db: Database) -> dict[str, RateRow]:
    """The whole rates table, read by one statement: one consistent snapshot of it."""
    return {row.currency: RateRow(row.currency, row.rate, row.as_of)
            for row in await _rows(db, select(rates))}


async def count_rates(db: Database) -> int:
    async with _engine(db).connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(rates))).scalar_one())


async def replace_rates(db: Database, values: dict[str, float], as_of: date) -> None:
    """Swap the whole rates table for ``values`` in one transaction."""
    rows = [{"currency": c, "rate": r, "as_of": as_of} for c, r in sorted(values.items())]
    async with _engine(db).begin() as conn:
        await conn.execute(delete(rates))
        await conn.execute(insert(rates), rows)


async def seed_rates(db: Database, values: dict[str, float], as_of: date) -> bool:
    """Fill the rates table from ``values`` if it is empty; ``True`` if this call seeded it.

    Several instances may start together and all see an empty table: each
    inserts the same rows and the losers' duplicate keys are ignored, so the
    table ends up holding one copy of the snapshot either way.
    """
    if await count_rates(db) > 0:
        return False
    rows = [{"currency": c, "rate": r, "as_of": as_of} for c, r in sorted(values.items())]
    async with _engine(db).begin() as conn:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        await conn.execute(dialect_insert(rates).on_conflict_do_nothing(), rows)
    return True
