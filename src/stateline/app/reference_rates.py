"""The currency rates as each instance sees them: a whole-table copy, refreshed from SQL.

Why: the converter read both rates from SQL on every request, so a pure
function of its input cost a store round trip each time (issue 16: 517 req/s
against 8,423 for the calculator). Reference rates change about once a day,
when someone runs ``stateline rates load``; reading them per request buys
nothing but cost.

Why this is not accidental state (``docs/performance.md`` has the argument in
full; ``stateline lint`` agrees):

- SQL stays the source of truth. No request writes the copy: one background
  task per instance replaces it, whole, every :data:`REFRESH_S` seconds, with
  what a single ``SELECT`` of the table returned -- one consistent snapshot,
  since ``rates load`` swaps the table in one transaction. An instance never
  answers from a mix of two loads.
- Staleness is bounded and the same on every replica: after a load, every
  instance answers the new rates within :data:`REFRESH_S` (plus one read), and
  every answer names its snapshot by ``as_of``.
- A copy older than :data:`MAX_AGE_S` (the database stopped answering the
  refresher) is not used: requests then read SQL as before, and answer 503 if
  it is down, rather than serve rates nobody can vouch for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from stateline.stores import sql

log = logging.getLogger("stateline.app")

#: How often each instance re-reads the rates table (seconds): the longest a load
#: takes to reach every instance. One small SELECT a second costs nothing.
REFRESH_S = 1.0
#: A copy not refreshed for this long is not used (requests read SQL directly).
MAX_AGE_S = 10.0


@dataclass(frozen=True)
class RatesCopy:
    """One snapshot of the rates table and when (``time.monotonic``) it was read."""

    rates: dict[str, sql.RateRow]
    read_at: float


class ReferenceRates:
    """The instance's copy of the rates table; :meth:`run` keeps it fresh."""

    def __init__(self, db: sql.Database, refresh_s: float = REFRESH_S,
                 max_age_s: float = MAX_AGE_S) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self.max_age_s = max_age_s
        self.copy: RatesCopy | None = None

    def fresh(self, now: float) -> Mapping[str, sql.RateRow] | None:
        """Every rate in the copy, by code, if the copy is fresh; ``None`` when there is none.

        The mapping is the copy itself, not a new dict per request: nobody writes it
        (:meth:`refresh` replaces the whole copy), so handing it out costs nothing.
        """
        copy = self.copy
        if copy is None or now - copy.read_at > self.max_age_s:
            return None
        return copy.rates

    async def refresh(self) -> None:
        """Replace the copy with the table as it is now (one statement)."""
        started = time.monotonic()
        self.copy = RatesCopy(await sql.all_rates(self.db), started)

    async def run(self) -> None:
        """Refresh every ``refresh_s`` until cancelled; a failure is logged and retried."""
        failing = False
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
                failing = False
            except Exception as exc:  # the database may be down for a while: keep trying
                if not failing:
                    log.warning("reading the rates table failed (%r); retrying", exc)
                failing = True

