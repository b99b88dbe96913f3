"""Database URLs as users write them become SQLAlchemy async URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from stateline.stores.sql import normalise_url, sqlite_file


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///data/stateline.db", "sqlite+aiosqlite:///data/stateline.db"),
    ("sqlite:////abs/stateline.db", "sqlite+aiosqlite:////abs/stateline.db"),
    ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ("postgresql://u@127.0.0.1:5432/db", "postgresql+psycopg://u@127.0.0.1:5432/db"),
    ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("PostgreSQL://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
])
def test_urls_are_normalised_to_the_async_drivers(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://h/db", "stateline.db", "postgresql+asyncpg://h/db"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(url)


def test_sqlite_file_names_the_file_or_none() -> None:
    assert sqlite_file("sqlite:////tmp/a.db") == Path("/tmp/a.db")
    assert sqlite_file("sqlite:///rel/a.db") == Path("rel/a.db")
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://h/db") is None
