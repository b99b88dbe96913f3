"""``--workers N``: N gateway processes on one port, supervised by a small parent.

Each worker binds the same address with SO_REUSEPORT and the kernel spreads
new connections across them; because the gateway is stateless, workers need
nothing from each other (rate limits live in Redis, membership in the
registry). The parent only starts workers, restarts one that dies
unexpectedly (with a short back-off), and on SIGTERM/SIGINT passes SIGTERM on
and waits for each worker's graceful shutdown.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import time
from typing import Any

from stateline.gateway.config import GatewayConfig
from stateline.gateway.server import bind, run

log = logging.getLogger("stateline.gateway")


def _worker(config: GatewayConfig) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; SIGTERM stops us
    run(config, reuse_port=True)


def supervise(config: GatewayConfig) -> int:
    """Run ``config.workers`` workers until SIGTERM/SIGINT; returns an exit status."""
    bind(*config.listen, reuse_port=True).close()  # fail early (and clearly) if the port is taken
    ctx = mp.get_context("fork")
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    procs: list[Any] = []
    for _ in range(config.workers):
        p = ctx.Process(target=_worker, args=(config,), daemon=False)
        p.start()
        procs.append(p)
    log.info("gateway: %d workers on %s:%d", len(procs), *config.listen)
    restarts: list[float] = []
    while not stopping:
        time.sleep(0.2)
        for i, p in enumerate(procs):
            if p.is_alive() or stopping:
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 10.0]
            if len(restarts) >= 5 * config.workers:
                log.error("gateway workers keep dying (last exit %s); giving up", p.exitcode)
                stopping = True
                break
            log.warning("gateway worker %d exited with %s; restarting", p.pid, p.exitcode)
            restarts.append(now)
            procs[i] = ctx.Process(target=_worker, args=(config,), daemon=False)
            procs[i].start()
    for p in procs:
        if p.is_alive() and p.pid is not None:
            p.terminate()  # SIGTERM: graceful
    deadline = time.monotonic() + config.shutdown_grace + 5.0
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(5)
    return 0
