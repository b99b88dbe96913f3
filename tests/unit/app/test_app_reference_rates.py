"""The instance's rates copy: used only while fresh, replaced whole from one read of SQL.

Time is driven explicitly (``fresh`` takes ``now``); the table is a real SQLite file.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from stateline.app.reference_rates import RatesCopy, ReferenceRates
from stateline.stores import sql

pytestmark = pytest.mark.timeout(60)


def _row(code: str, rate: float) -> sql.RateRow:
    return sql.RateRow(code, rate, date(2026, 10, 30))


def test_no_copy_means_no_answer() -> None:
    rates = ReferenceRates(db=None)  # type: ignore[arg-type]  # never read here
    assert rates.fresh(now=0.0) is None


def test_a_fresh_copy_answers_the_codes_it_has() -> None:
    rates = ReferenceRates(db=None, max_age_s=10.0)  # type: ignore[arg-type]
    rates.copy = RatesCopy({"USD": _row("USD", 1.1), "EUR": _row("EUR", 1.0)}, read_at=100.0)
    found = rates.fresh(now=105.0)
    assert found is not None and found.get("USD") == _row("USD", 1.1) and found.get("XXX") is None
    assert rates.fresh(now=110.0) == {"USD": _row("USD", 1.1), "EUR": _row("EUR", 1.0)}


def test_a_copy_older_than_max_age_is_not_used() -> None:
    rates = ReferenceRates(db=None, max_age_s=10.0)  # type: ignore[arg-type]
    rates.copy = RatesCopy({"USD": _row("USD", 1.1)}, read_at=100.0)
    assert rates.fresh(now=110.5) is None


def test_refresh_replaces_the_copy_with_the_whole_table(tmp_path: Path) -> None:
    async def main() -> None:
        db = sql.open_store(f"sqlite:///{tmp_path / 'r.db'}")
        try:
            await sql.ensure_schema(db)
            await sql.replace_rates(db, {"EUR": 1.0, "USD": 2.0, "GBP": 0.5}, date(2026, 1, 2))
            rates = ReferenceRates(db)
            await rates.refresh()
            assert rates.copy is not None and set(rates.copy.rates) == {"EUR", "USD", "GBP"}
            first = rates.copy.read_at
            await sql.replace_rates(db, {"EUR": 1.0, "CHF": 0.9}, date(2026, 1, 3))
            await rates.refresh()
            # The old load is gone entirely: GBP and USD are not carried over.
            assert set(rates.copy.rates) == {"EUR", "CHF"}
            assert rates.copy.rates["CHF"].as_of == date(2026, 1, 3)
            assert rates.copy.read_at >= first
        finally:
            await db.dispose()
    asyncio.run(main())


def test_a_failed_refresh_keeps_the_last_copy(tmp_path: Path) -> None:
    async def main() -> None:
        db = sql.open_store(f"sqlite:///{tmp_path / 'f.db'}")
        try:
            await sql.ensure_schema(db)
            await sql.replace_rates(db, {"EUR": 1.0}, date(2026, 1, 2))
            rates = ReferenceRates(db)
            await rates.refresh()
            kept = rates.copy
            async with db.engine.begin() as conn:
                await conn.exec_driver_sql("DROP TABLE rates")
            with pytest.raises(Exception, match="rates"):
                await rates.refresh()
            assert rates.copy is kept  # and it ages out after max_age_s (above)
        finally:
            await db.dispose()
    asyncio.run(main())
