"""One shard process: ``stateline shard``, the rooms service behind the gateway's ``/api/rooms/``.

Its life:

1. listen at once (health 503), connect to Redis, then register in the
   ``shards`` pool of the registry and wait for the first membership snapshot
   that lists itself: only then can it tell which rooms rendezvous gives it,
   so only then is it ready (health 200);
2. while serving, three loops: follow the registry (a membership change hands
   off the rooms that moved: snapshot, release, forget), renew every lease it
   holds each third of the lease TTL, and re-check the rooms it holds;
3. on SIGTERM: mark itself draining (gateways and the other shards stop
   routing to it), keep serving its rooms for a few registry polls while they
   notice, then hand off every room, deregister, exit 0. A SIGKILL skips
   all that: its leases expire (or its restarted self takes them over) and the
   rooms reactivate from snapshot + log on their next request.

The shard's identity as a lease holder is ``<instance id>/<incarnation>``: a
restarted ``shard-2`` is a new holder, so it can never mistake the leases of
the process it replaces for its own (it takes them over with new tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import uuid
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stateline.app.errors import EXCEPTION_HANDLERS
from stateline.app.factory import InstanceHeader
from stateline.app.responses import json_response
from stateline.app.routing import merge_routes
from stateline.registry import Registrar, RegistryWatcher
from stateline.settings import Settings
from stateline.shards import POOL, api
from stateline.shards.rooms import RoomService
from stateline.stores.blobs import open_blob_store
from stateline.stores.redis import connect_bounded

log = logging.getLogger("stateline.shards")

HEALTH_PATH = "/_stateline/health"
STATS_PATH = "/_stateline/shard"
REGISTRY_INTERVAL_S = 0.25


async def health(request: Request) -> Response:
    rooms, ident = api.ROOMS, request.app.state.instance_id
    if rooms.ready and not rooms.draining:
        return json_response({"status": "ok", "instance": ident})
    return json_response({"status": "draining" if rooms.ready else "starting",
                          "instance": ident}, status=503)


async def stats(request: Request) -> Response:
    return json_response(api.ROOMS.stats())


def create_app(instance_id: str) -> Starlette:
    app = Starlette(
        routes=merge_routes([Route(HEALTH_PATH, health, methods=["GET"]),
                             Route(STATS_PATH, stats, methods=["GET"]), *api.routes]),
        exception_handlers={**EXCEPTION_HANDLERS, **api.EXCEPTION_HANDLERS},
    )
    app.router.redirect_slashes = False
    app.state.instance_id = instance_id
    app.add_middleware(InstanceHeader, instance_id=instance_id)
    return app


async def _members(watcher: RegistryWatcher) -> AsyncIterator[list[str]]:
    async for members in watcher.watch():
        yield [m.id for m in members if not m.draining]


async def _follow(service: RoomService, watcher: RegistryWatcher, seen_self: asyncio.Event) -> None:
    async for live in _members(watcher):
        if service.shard in live:
            seen_self.set()
        if not seen_self.is_set():
            continue
        service.set_members(live)
        try:
            moved = await service.rebalance()
        except Exception as exc:  # a store hiccup: the periodic check tries again
            log.warning("rebalance failed: %r", exc)
            continue
        if moved:
            log.info("%s handed off %d rooms (members now %s)", service.shard, len(moved), live)


async def _keep_leases(service: RoomService) -> None:
    interval = service.leases.ttl_s / 3
    while True:
        await asyncio.sleep(interval)
        try:
            await service.renew_all()
            await service.rebalance()
        except Exception as exc:  # renewal retries next tick; the local deadline guards reads
            log.warning("lease renewal failed: %r", exc)


async def serve(settings: Settings, instance_id: str) -> int:
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server

    if not settings.redis_url:
        print("stateline shard: set STATELINE_REDIS_URL", file=sys.stderr)
        return 2
    redis = connect_bounded(settings.redis_url)
    holder = f"{instance_id}/{uuid.uuid4().hex[:8]}"
    service = api.ROOMS
    blobs = open_blob_store(settings.blob_url, settings.data_dir / "blobs")
    service.bind(redis, blobs, holder)
    service.view_wait_s = 2 * REGISTRY_INTERVAL_S
    app = create_app(instance_id)
    address = f"{settings.host}:{settings.port}"
    server = Server(app, address=settings.host, port=settings.port, interface=Interfaces.ASGI,
                    log_level=LogLevels.error, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve(), name="granian")
    print(f"stateline shard {holder} starting on http://{address}", file=sys.stderr, flush=True)
    # Registered as other hosts reach it (STATELINE_ANNOUNCE_HOST), not as it binds.
    registrar = Registrar(redis, POOL, instance_id,
                          f"{settings.advertised_host}:{settings.port}")
    watcher = RegistryWatcher(redis, POOL, interval_s=REGISTRY_INTERVAL_S)
    seen_self = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        while True:
            try:
                await redis.ping()
                await registrar.start()
                break
            except Exception as exc:  # Redis may come up after us
                log.warning("%s: waiting for Redis (%r)", instance_id, exc)
                await asyncio.sleep(0.5)
        tasks.append(asyncio.create_task(_follow(service, watcher, seen_self)))
        await seen_self.wait()
        tasks.append(asyncio.create_task(_keep_leases(service)))
        service.ready = True  # stateline: allow[SL113] set once, at start-up, never by a request
        log.info("%s ready", holder)

    starting = asyncio.create_task(start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    starting.cancel()
    if serving.done():
        print(f"stateline shard {instance_id}: cannot serve on {address}", file=sys.stderr)
        return 1
    # Drain in an order that lets every other party move first: stop following the
    # registry (our own "draining" entry would hand everything off at once), mark us
    # draining there, keep serving what we hold while gateways and the other shards
    # see it (a few polls), and only then hand every room off. Handing off at once
    # made the next owners refuse (421) while their views still named us.
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(registrar.drain(), 2.0)
    await asyncio.sleep(3 * REGISTRY_INTERVAL_S)
    service.draining = True
    with contextlib.suppress(Exception):
        moved = await asyncio.wait_for(service.rebalance(), 5.0)
        log.info("%s drained: handed off %d rooms", holder, len(moved))
    await asyncio.sleep(2 * REGISTRY_INTERVAL_S)  # requests already routed here get their 421
    with contextlib.suppress(Exception):
        await asyncio.wait_for(registrar.stop(), 2.0)
    with contextlib.suppress(Exception):
        await redis.aclose()
    with contextlib.suppress(Exception):
        await blobs.close()
    server.stop()
    await serving
    return 0


def run(settings: Settings, instance_id: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(settings, instance_id))
    return uvloop.run(serve(settings, instance_id))
