"""Running one app instance: one OS process, granian embedded, a graceful drain.

granian serves the ASGI app *inside this process* through its embedded server
(``granian.server.embed``): no worker processes are forked, so the pid the
supervisor holds is the whole server and ``SIGKILL`` of it leaves nothing
behind. Its only children are the image decoders (``workers.py``): a
forkserver and its resource tracker, which exit when their pipe to the
instance closes, and short-lived decoders, which die with the forkserver.
granian was chosen by measurement (``bench/app_throughput.py``).

The instance's life (see ``lifecycle.py``):

1. listen at once; the app connects to its stores in the background, health
   answers 503 until they answer;
2. when ready, register in the registry (``STATELINE_REGISTRY_URL``), retrying
   while the registry is unreachable;
3. on SIGTERM or SIGINT, drain: mark itself draining in the registry (gateways
   stop sending new work within one poll interval), keep serving for the grace
   period, deregister, stop the server, exit 0. A second signal cuts the grace
   period short.

Header limits are granian's (hyper's) and not ours to set: granian 2.8 exposes
no option for the number of header fields, and hyper's fixed limit is 100
(request line aside), so a request with more gets ``431`` with an empty body
from the server before the app sees it. The head's total size may reach
granian's read buffer (``HTTP1Settings.max_buffer_size``, about 408 KiB), well
above the gateway's 64 KiB. The gateway, which faces clients, is where a JSON
431 for too many headers belongs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from stateline.app.factory import create_app
from stateline.app.lifecycle import Lifecycle
from stateline.registry import Registrar
from stateline.settings import Settings
from stateline.stores.redis import connect

log = logging.getLogger("stateline.app")

#: Default time an instance keeps serving after SIGTERM: over two registry poll
#: intervals (0.25 s each), so every gateway has seen "draining" before it exits.
DEFAULT_GRACE_S = 1.0
MIN_GRACE_S = 0.6
REGISTER_RETRY_S = 1.0
#: An unreachable registry must not hold up an exit: its TTL forgets us anyway.
REGISTRY_CALL_TIMEOUT_S = 2.0


class _Stop:
    """Signals: the first asks for a graceful drain, a second for haste."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.hurry = asyncio.Event()

    def __call__(self) -> None:
        if self.requested.is_set():
            self.hurry.set()
        self.requested.set()


async def _register(registrar: Registrar) -> Registrar:
    """Register, retrying while the registry is unreachable."""
    while True:
        try:
            await registrar.start()
            log.info("registered %s at %s in pool %s", registrar.instance_id,
                     registrar.address, registrar.pool)
            return registrar
        except Exception as exc:  # the registry may come up after us: keep trying
            log.warning("registering %s failed (%r); retrying", registrar.instance_id, exc)
            await asyncio.sleep(REGISTER_RETRY_S)


async def serve(settings: Settings, instance_id: str, grace_s: float = DEFAULT_GRACE_S) -> int:
    """Serve until a signal, drain, and return the exit status."""
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server

    lifecycle = Lifecycle()
    app = create_app(settings, instance_id, lifecycle)
    address = f"{settings.host}:{settings.port}"
    #: What the registry (and so every gateway) is told: reachable from other hosts.
    announced = f"{settings.advertised_host}:{settings.port}"
    server = Server(app, address=settings.host, port=settings.port, interface=Interfaces.ASGI,
                    log_level=LogLevels.error, backlog=1024)
    stop = _Stop()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)

    serving = asyncio.create_task(server.serve(), name="granian")
    print(f"stateline app {instance_id} starting on http://{address}", file=sys.stderr,
          flush=True)
    registry = connect(settings.registry_url) if settings.registry_url else None
    registering = asyncio.create_task(_register_when_ready(
        lifecycle,
        Registrar(registry, settings.pool, instance_id, announced) if registry else None,
    ))
    stopping = asyncio.create_task(stop.requested.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():  # the server ended by itself: the port was taken, say
        registering.cancel()
        stopping.cancel()
        if registry is not None:
            await registry.aclose()
        exc = serving.exception()
        reason = str(exc).strip().splitlines()[0] if exc else "no reason given"
        print(f"stateline app {instance_id}: cannot serve on {address}: {reason}",
              file=sys.stderr)
        return 1

    was_ready = lifecycle.serving
    lifecycle.drain()
    registrar = None
    if registering.done() and not registering.cancelled():
        registrar = registering.result()
    else:
        registering.cancel()
    if registrar is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(registrar.drain(), REGISTRY_CALL_TIMEOUT_S)
    if was_ready:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.hurry.wait(), timeout=grace_s)
    if registrar is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(registrar.stop(), REGISTRY_CALL_TIMEOUT_S)
    if registry is not None:
        with contextlib.suppress(Exception):
            await registry.aclose()
    lifecycle.stop()
    server.stop()
    await serving
    return 0


async def _register_when_ready(
    lifecycle: Lifecycle, registrar: Registrar | None
) -> Registrar | None:
    await lifecycle.wait_ready()
    return await _register(registrar) if registrar is not None else None


def run(settings: Settings, instance_id: str, grace_s: float = DEFAULT_GRACE_S) -> int:
    """Blocking entry for ``stateline app``: uvloop when available."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(settings, instance_id, grace_s))
    return uvloop.run(serve(settings, instance_id, grace_s))
