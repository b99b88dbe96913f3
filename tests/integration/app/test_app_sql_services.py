"""Users and currency rates in SQL, against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from stateline.app import commands
from stateline.app.rates import shipped_snapshot
from stateline.app.reference_rates import REFRESH_S
from stateline.settings import Settings
from stateline.stores import sql


def _cli() -> typer.Typer:
    """The app package's commands, as ``stateline`` assembles them."""
    cli = typer.Typer()
    commands.register(cli)
    return cli


@pytest.fixture
def client(redis_url: str, database_url: str, settings_for: Callable[..., Settings],
           run_app: Any) -> Iterator[Any]:
    with run_app(settings_for(redis_url, database_url), "app-sql") as c:
        yield c


def test_create_and_read_a_user(client: Any) -> None:
    made = client.post("/api/users", json={"name": " Ann ", "email": "Ann@Example.com"})
    assert made.status_code == 201
    user = made.json()
    assert user["name"] == "Ann" and user["email"] == "ann@example.com"
    assert user["created_at"].endswith("Z")
    assert made.headers["location"] == f"/api/users/{user['id']}"
    assert client.get(f"/api/users/{user['id']}").json() == user


def test_duplicate_email_is_409_whatever_its_case(client: Any) -> None:
    assert client.post("/api/users", json={"name": "A", "email": "a@x.org"}).status_code == 201
    again = client.post("/api/users", json={"name": "B", "email": "A@X.org"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize("body", [
    {"name": "A", "email": "not-an-email"}, {"name": "", "email": "a@x.org"},
    {"email": "a@x.org"}, {"name": "A"}, {"name": 1, "email": "a@x.org"},
    {"name": "A", "email": ["a@x.org"]}, {"name": "x" * 201, "email": "a@x.org"},
])
def test_invalid_users_are_422(client: Any, body: dict[str, Any]) -> None:
    response = client.post("/api/users", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_field"


def test_unknown_or_malformed_user_ids_are_404(client: Any) -> None:
    for path in ("/api/users/999999", "/api/users/abc", "/api/users/-1",
                 "/api/users/99999999999999999999999"):
        assert client.get(path).status_code == 404, path


def test_keyset_pagination_walks_every_user_once(client: Any) -> None:
    made = [client.post("/api/users", json={"name": f"u{i}", "email": f"u{i}@x.org"}).json()
            for i in range(7)]
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "/api/users?limit=3" + (f"&after={cursor}" if cursor else "")
        page = client.get(query).json()
        seen.extend(page["items"])
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == made
    assert pages == 3


def test_pagination_parameters_are_checked(client: Any) -> None:
    for query in ("limit=0", "limit=101", "limit=x", "after=abc", "after=-3"):
        assert client.get(f"/api/users?{query}").status_code == 400, query


def test_currency_converts_with_the_shipped_dated_rates(client: Any) -> None:
    snap = shipped_snapshot()
    body = client.get("/api/currency/convert?amount=100&from=USD&to=EUR").json()
    assert body["from"] == "USD" and body["to"] == "EUR" and body["amount"] == 100
    assert body["rate"] == pytest.approx(1 / snap.rates["USD"])
    assert body["result"] == pytest.approx(100 / snap.rates["USD"], abs=1e-6)
    assert body["as_of"] == snap.as_of.isoformat()
    cross = client.get("/api/currency/convert?amount=1&from=gbp&to=jpy").json()
    assert cross["rate"] == pytest.approx(snap.rates["JPY"] / snap.rates["GBP"])


@pytest.mark.parametrize(("query", "status"), [
    ("amount=1&from=XXX&to=EUR", 422), ("amount=1&from=USD&to=ZZZ", 422),
    ("amount=1&from=US&to=EUR", 400), ("amount=1&from=U1D&to=EUR", 400),
    ("amount=x&from=USD&to=EUR", 400), ("amount=nan&from=USD&to=EUR", 400),
    ("amount=1e300&from=USD&to=EUR", 400), ("from=USD&to=EUR", 400), ("amount=1&to=EUR", 400),
])
def test_bad_conversions_are_4xx(client: Any, query: str, status: int) -> None:
    response = client.get(f"/api/currency/convert?{query}")
    assert response.status_code == status
    assert "error" in response.json()


def test_rates_load_replaces_what_every_instance_answers(
    client: Any, database_url: str, tmp_path: Path
) -> None:
    new = tmp_path / "eurofxref.csv"
    new.write_text("Date, USD, CHF, \n3 November 2026, 2.0, 0.5, \n")
    result = CliRunner().invoke(_cli(), ["rates", "load", str(new),
                                          "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert "loaded 3 rates as of 2026-11-03" in result.output
    # Each instance re-reads the table every REFRESH_S: until it has, it answers the old
    # snapshot whole (never a mix of the two); then the new one. The deadline only bounds a
    # broken refresher: a healthy one needs about a second.
    old = shipped_snapshot()
    deadline = time.monotonic() + 30 * REFRESH_S
    while True:
        body = client.get("/api/currency/convert?amount=10&from=USD&to=CHF").json()
        if body["as_of"] == "2026-11-03":
            break
        assert body["as_of"] == old.as_of.isoformat()
        assert body["rate"] == pytest.approx(old.rates["CHF"] / old.rates["USD"])
        assert time.monotonic() < deadline, "the new rates never reached the instance"
        time.sleep(0.05)
    assert body["rate"] == 0.25 and body["result"] == 2.5
    # Currencies missing from the new file are gone: the table was replaced, not merged.
    assert client.get("/api/currency/convert?amount=1&from=GBP&to=EUR").status_code == 422


def test_rates_load_refuses_a_bad_file_and_changes_nothing(
    client: Any, database_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Date, USD\n2026-11-03, -2\n")
    result = CliRunner().invoke(_cli(), ["rates", "load", str(bad),
                                          "--database-url", database_url])
    assert result.exit_code == 1
    assert client.get("/api/currency/convert?amount=1&from=GBP&to=EUR").status_code == 200


def test_schema_and_seed_are_safe_when_three_instances_start_at_once(database_url: str) -> None:
    snap = shipped_snapshot()

    async def start_one() -> bool:
        engine = sql.create_engine(database_url)
        try:
            await sql.ensure_schema(engine)
            return await sql.seed_rates(engine, snap.rates, snap.as_of)
        finally:
            await engine.dispose()

    async def main() -> tuple[list[bool], int]:
        seeded = list(await asyncio.gather(*(start_one() for _ in range(3))))
        engine = sql.create_engine(database_url)
        try:
            return seeded, await sql.count_rates(engine)
        finally:
            await engine.dispose()

    seeded, count = asyncio.run(main())
    assert any(seeded)
    assert count == len(snap.rates)
    # A later start does not seed again.
    assert asyncio.run(_seed_again(database_url)) is False


async def _seed_again(url: str) -> bool:
    snap = shipped_snapshot()
    engine = sql.create_engine(url)
    try:
        await sql.ensure_schema(engine)
        return await sql.seed_rates(engine, snap.rates, snap.as_of)
    finally:
        await engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    async def mode() -> str:
        engine = sql.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
        try:
            async with engine.connect() as conn:
                return str((await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one())
        finally:
            await engine.dispose()

    assert asyncio.run(mode()) == "wal"
