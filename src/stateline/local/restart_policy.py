"""When to restart a process that exited: a pure core with no clocks or processes.

The supervisor feeds events in (started, exited, killed on request) with the
current time and asks what to do. Keeping the rules here, as data in and a
decision out, lets the tests drive every case directly, h11 style.

Rules:

- an exit the user asked for (``stateline kill``) restarts at once and does
  not count as a crash: experiments kill instances on purpose, repeatedly;
- a crash restarts after a delay that doubles with each *quick* crash in a row
  (exponential backoff), so a process that dies on start-up does not spin the
  CPU;
- a process that stayed up for ``stable_after`` seconds has proven itself, and
  its next crash starts the backoff from the beginning again;
- after ``max_quick_crashes`` quick crashes in a row the process is declared
  failed and left down (crash-loop protection): its log says why, and
  ``stateline status`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class BackoffConfig:
    initial_delay: float = 0.25
    factor: float = 2.0
    max_delay: float = 8.0
    stable_after: float = 10.0
    max_quick_crashes: int = 6


@dataclass(frozen=True)
class Restart:
    """Restart at time ``at`` (same clock as the events)."""

    at: float


@dataclass(frozen=True)
class GiveUp:
    """Stop restarting; ``reason`` is shown to the user."""

    reason: str


Decision = Restart | GiveUp


@dataclass(frozen=True)
class RestartState:
    """What the policy remembers about one process."""

    started_at: float = 0.0
    quick_crashes: int = 0
    restarts: int = 0


class RestartPolicy:
    """Decides restarts for one process; immutable state, pure transitions."""

    def __init__(self, config: BackoffConfig | None = None) -> None:
        self.config = config or BackoffConfig()

    def started(self, state: RestartState, now: float) -> RestartState:
        return replace(state, started_at=now)

    def exited(self, state: RestartState, now: float, requested: bool) -> tuple[
        RestartState, Decision
    ]:
        """The process exited at ``now``; ``requested`` if we were asked to kill it."""
        if requested:
            return replace(state, restarts=state.restarts + 1), Restart(at=now)
        cfg = self.config
        uptime = now - state.started_at
        quick = 1 if uptime >= cfg.stable_after else state.quick_crashes + 1
        if quick >= cfg.max_quick_crashes:
            reason = (f"crashed {quick} times in a row, each within {cfg.stable_after:g}s "
                      "of starting; not restarting it again")
            return replace(state, quick_crashes=quick), GiveUp(reason)
        delay = min(cfg.initial_delay * cfg.factor ** (quick - 1), cfg.max_delay)
        new = replace(state, quick_crashes=quick, restarts=state.restarts + 1)
        return new, Restart(at=now + delay)
