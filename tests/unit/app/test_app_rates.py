"""Parsing ECB reference-rate CSVs, and the snapshot shipped with the package."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from stateline.app.rates import RatesFormatError, parse_ecb_csv, read_ecb_file, shipped_snapshot

DAILY = (
    "Date, USD, JPY, GBP, \n"
    "30 October 2026, 1.1172, 175.68, 0.83380, \n"
)
HISTORY = (
    "Date,USD,JPY,CYP,\n"
    "2026-10-30,1.1172,175.68,N/A,\n"
    "2026-10-29,1.113,175.92,N/A,\n"
    "2007-12-31,1.4721,164.93,0.585274,\n"
)


def test_daily_file_parses_with_eur_as_the_base() -> None:
    snap = parse_ecb_csv(DAILY)
    assert snap.as_of == date(2026, 10, 30)
    assert snap.rates == {"USD": 1.1172, "JPY": 175.68, "GBP": 0.8338, "EUR": 1.0}


def test_historical_file_gives_its_newest_row_and_skips_na() -> None:
    snap = parse_ecb_csv(HISTORY)
    assert snap.as_of == date(2026, 10, 30)
    assert "CYP" not in snap.rates
    assert snap.rates["USD"] == 1.1172


def test_zipped_history_is_read_like_the_csv(tmp_path: Path) -> None:
    path = tmp_path / "eurofxref-hist.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("eurofxref-hist.csv", HISTORY)
    assert read_ecb_file(path) == parse_ecb_csv(HISTORY)


@pytest.mark.parametrize("text", [
    "",
    "Date, USD\n",
    "Day, USD\n2026-10-30, 1.1\n",
    "Date, US\n2026-10-30, 1.1\n",
    "Date, usd\n2026-10-30, 1.1\n",
    "Date, USD, USD\n2026-10-30, 1.1, 1.2\n",
    "Date, USD\n2026-10-30, -1.1\n",
    "Date, USD\n2026-10-30, 0\n",
    "Date, USD\n2026-10-30, inf\n",
    "Date, USD\n2026-10-30, nan\n",
    "Date, USD\n2026-10-30, one\n",
    "Date, USD\nyesterday, 1.1\n",
    "Date, USD\n2026-10-30, 1.1, 2.2\n",
    "Date, USD\n2026-10-30, N/A\n",
])
def test_malformed_files_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(RatesFormatError):
        parse_ecb_csv(text)


def test_shipped_snapshot_is_dated_and_complete() -> None:
    snap = shipped_snapshot()
    assert snap.as_of == date(2026, 10, 30)
    assert snap.rates["EUR"] == 1.0
    assert {"USD", "JPY", "GBP", "CHF"} <= snap.rates.keys()
    assert all(rate > 0 for rate in snap.rates.values())


@pytest.mark.parametrize(("content", "reason"), [
    (b"PK\x03\x04garbage", "not a zip file"),
    (b"hello", "not a zip file"),
    (b"", "not a zip file"),
])
def test_a_corrupt_zip_is_a_format_error_not_a_crash(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(content)
    with pytest.raises(RatesFormatError, match=reason):
        read_ecb_file(path)


def test_a_zip_with_a_damaged_member_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "hist.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("eurofxref-hist.csv", HISTORY * 50)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2  # inside the compressed CSV
    data[middle:middle + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(RatesFormatError, match="damaged zip file"):
        read_ecb_file(path)


def test_rates_load_on_a_corrupt_zip_says_so_and_exits_1(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from stateline.app.commands import register

    cli = typer.Typer()
    register(cli)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04garbage")
    result = CliRunner().invoke(cli, ["rates", "load", str(bad), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"stateline rates load: {bad}: not a zip file" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "stateline.db").exists()  # refused before touching SQL
