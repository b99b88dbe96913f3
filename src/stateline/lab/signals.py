"""SIGTERM and SIGHUP end an experiment run the way Ctrl-C does.

An experiment starts a whole stack (`stateline up` and its children) and stops
it in ``finally``/``with`` blocks, which run on ``KeyboardInterrupt``. Python's
default for SIGTERM is to die at once, so a run ended by ``kill``, a CI timeout
or a closed terminal would leave that stack running with nobody to stop it.
Inside :func:`terminate_as_interrupt` those signals raise ``KeyboardInterrupt``
instead, and the stack is torn down as after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise KeyboardInterrupt; the old handlers come back after.

    Only the main thread can set handlers; elsewhere (a run started from a thread)
    the block runs unchanged.
    """
    previous: dict[int, object] = {}
    try:
        for sig in SIGNALS:
            previous[sig] = signal.signal(sig, _interrupt)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
