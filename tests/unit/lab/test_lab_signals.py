"""SIGTERM/SIGHUP during an experiment run unwind like Ctrl-C, so its stack is stopped."""

from __future__ import annotations

import signal

import pytest

from stateline.lab.signals import SIGNALS, terminate_as_interrupt


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_inside_the_block_raises_keyboard_interrupt_and_runs_cleanup(sig: int) -> None:
    cleaned = []
    with pytest.raises(KeyboardInterrupt, match=signal.Signals(sig).name), \
            terminate_as_interrupt():
        try:
            signal.raise_signal(sig)  # the handler runs as this call returns
            raise AssertionError("the signal did not interrupt")
        finally:
            cleaned.append(sig)
    assert cleaned == [sig]


def test_previous_handlers_come_back_after_the_block() -> None:
    seen: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: seen.append(signum)) for s in SIGNALS}
    try:
        mine = {s: signal.getsignal(s) for s in SIGNALS}
        with terminate_as_interrupt():
            assert all(signal.getsignal(s) is not mine[s] for s in SIGNALS)
        assert {s: signal.getsignal(s) for s in SIGNALS} == mine
    finally:
        for s, h in old.items():
            signal.signal(s, h)
