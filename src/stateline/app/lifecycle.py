"""The life of one app instance as a small state machine, with no I/O.

    starting ──ready()──► ready ──drain()──► draining ──stop()──► stopped
        └────────────────────drain()───────────┘

*starting*: the process listens but its stores are not reachable yet; health
answers 503 so nothing routes to it. *ready*: stores reachable, health 200.
*draining*: SIGTERM arrived; the instance told the registry, health answers
503 so active health checks agree, and it keeps serving whatever still
arrives for the grace period. *stopped*: the server is closing.

The server entry (``server.py``) drives the transitions; the health endpoint
only reads :attr:`Lifecycle.state`. Keeping it pure lets the unit tests walk
every transition.
"""

from __future__ import annotations

import asyncio
from enum import Enum


class State(Enum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"


_ALLOWED = {
    State.STARTING: {State.READY, State.DRAINING, State.STOPPED},
    State.READY: {State.DRAINING, State.STOPPED},
    State.DRAINING: {State.STOPPED},
    State.STOPPED: set(),
}


class Lifecycle:
    """Where this instance is in its life; :meth:`wait_ready` lets the runner wait on it."""

    def __init__(self) -> None:
        self.state = State.STARTING
        self.detail = "connecting to the stores"
        self._ready = asyncio.Event()

    def _move(self, target: State) -> bool:
        if target not in _ALLOWED[self.state]:
            return False
        self.state = target
        return True

    def ready(self) -> bool:
        moved = self._move(State.READY)
        if moved:
            self.detail = "serving"
            self._ready.set()
        return moved

    def drain(self) -> bool:
        moved = self._move(State.DRAINING)
        if moved:
            self.detail = "draining: finishing work before exit"
        return moved

    def stop(self) -> bool:
        moved = self._move(State.STOPPED)
        if moved:
            self.detail = "stopped"
        return moved

    def starting_problem(self, detail: str) -> None:
        """Record why the stores are not reachable yet (shown by the health endpoint)."""
        if self.state is State.STARTING:
            self.detail = detail

    @property
    def serving(self) -> bool:
        """Whether ordinary requests are answered (draining instances still serve)."""
        return self.state in (State.READY, State.DRAINING)

    async def wait_ready(self) -> None:
        await self._ready.wait()
