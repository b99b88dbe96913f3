"""The instance lifecycle: starting → ready → draining → stopped, nothing backwards."""

from __future__ import annotations

from stateline.app.lifecycle import Lifecycle, State


def test_a_normal_life_walks_every_state_once() -> None:
    life = Lifecycle()
    assert life.state is State.STARTING and not life.serving
    assert life.ready() and life.serving
    assert life.drain() and life.state is State.DRAINING and life.serving
    assert life.stop() and life.state is State.STOPPED and not life.serving


def test_no_transition_goes_backwards() -> None:
    life = Lifecycle()
    life.ready()
    life.drain()
    assert not life.ready()
    assert life.state is State.DRAINING
    life.stop()
    assert not life.drain() and not life.ready()
    assert life.state is State.STOPPED


def test_a_signal_while_starting_drains_without_ever_being_ready() -> None:
    life = Lifecycle()
    life.starting_problem("redis refused the connection")
    assert life.detail == "redis refused the connection"
    assert life.drain()
    assert not life.ready()


def test_starting_problems_are_only_recorded_while_starting() -> None:
    life = Lifecycle()
    life.ready()
    life.starting_problem("late news")
    assert life.detail == "serving"
