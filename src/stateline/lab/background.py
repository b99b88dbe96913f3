"""A load run on its own thread, so an experiment can inject faults while it runs."""

from __future__ import annotations

import threading
import time
from typing import Any

from stateline.lab.loadgen import LoadConfig, LoadGenerator, new_event_loop


class Background:
    """A load run on its own thread and event loop, for experiments that act meanwhile.

    :meth:`now` reads the load's own clock (seconds since its start), so the
    times at which an experiment injects faults line up with the timeline.
    """

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.generator = LoadGenerator(config)
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Background:
        def target() -> None:
            loop = new_event_loop()
            try:
                self.result = loop.run_until_complete(self.generator.run())
            except BaseException as exc:
                self.error = exc
            finally:
                loop.close()

        self._thread = threading.Thread(target=target, name="stateline-load", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.generator.running and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        return self

    def now(self) -> float:
        """Seconds since the load started (its timeline's clock)."""
        return self.generator._now()

    def join(self) -> dict[str, Any]:
        assert self._thread is not None, "start() first"
        self._thread.join(self.config.duration + self.config.timeout + 30)
        if self.error is not None:
            raise self.error
        if self.result is None:
            raise RuntimeError("the load run did not finish")
        return self.result
