"""The ASGI app factory: one stateless app instance's routes, middleware and start-up.

``create_app(settings)`` returns a Starlette app. Its lifespan builds the store
clients and then, in the background, waits until Redis and SQL answer, creates
the schema and seeds the currency rates; only then does the instance become
*ready* (health 200). The process therefore listens at once and says "not
ready yet" (503) instead of refusing connections, which lets a supervisor tell
a slow start from a dead one.

Starlette was chosen by measurement (``bench/app_throughput.py``): under
granian it serves the calculator faster than a minimal Starlette app under
uvicorn, while keeping routing and request parsing readable. JSON is orjson.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stateline.app import openapi
from stateline.app.context import AppContext, Stores, context
from stateline.app.errors import EXCEPTION_HANDLERS
from stateline.app.front import FrontedStarlette
from stateline.app.lifecycle import Lifecycle, State
from stateline.app.rates import RateSnapshot, shipped_snapshot
from stateline.app.reference_rates import ReferenceRates
from stateline.app.responses import json_response
from stateline.app.routing import IndexedRouter, merge_routes
from stateline.app.services import (
    calc,
    carts,
    counter,
    currency,
    demo,
    images,
    players,
    sessions,
    users,
)
from stateline.app.spec import Operation, Reply, api, json_object
from stateline.app.workers import CpuPool
from stateline.settings import Settings
from stateline.stores import redis as redis_store
from stateline.stores import redis_fast, sql
from stateline.stores.blobs import open_blob_store

log = logging.getLogger("stateline.app")

HEALTH_PATH = "/_stateline/health"
#: Longest pause between two attempts to reach the stores at start-up.
MAX_RETRY_DELAY_S = 2.0
#: A store problem that persists is logged again at most this often.
PROBLEM_LOG_EVERY_S = 5.0


def store_problem(exc: BaseException) -> str:
    """One line (at most 300 characters) saying which store failed and why.

    Database drivers write multi-line messages; a log line must stay one line.
    """
    if isinstance(exc, RedisError):
        which = "redis store"
    elif isinstance(exc, sa_exc.SQLAlchemyError):
        which = "sql store"
    else:
        which = "a store"
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig  # the driver's own words, without SQLAlchemy's SQL and URL boilerplate
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{which} not reachable yet: {type(exc).__name__}: {text}"[:300]


class InstanceHeader:
    """Pure ASGI middleware: every response says which instance answered it."""

    def __init__(self, app: ASGIApp, instance_id: str) -> None:
        self.app = app
        self.header = (b"x-instance-id", instance_id.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self.header]
            await send(message)

        await self.app(scope, receive, send_with_header)


#: An instance answers {status, instance[, detail]}; through the gateway, this path is the
#: gateway's own health ({status, role, pid, pools}), which only ``status`` has in common.
_HEALTH = json_object({"status": {"type": "string"}, "instance": {"type": "string"},
                       "detail": {"type": "string"}, "role": {"type": "string"},
                       "pid": {"type": "integer"}, "pools": {"type": "object"}}, ("status",))


@api(Operation(
    "Whether this instance serves: 200 when ready, 503 while starting or draining",
    tag="meta", stores=False,
    replies=(Reply(200, "Ready", _HEALTH), Reply(503, "Starting, draining or stopped", _HEALTH)),
))
async def health(request: Request) -> Response:
    ctx = context(request)
    state = ctx.lifecycle.state
    if state is State.READY:
        return json_response({"status": "ok", "instance": ctx.instance_id})
    return json_response(
        {"status": state.value, "instance": ctx.instance_id, "detail": ctx.lifecycle.detail},
        status=503,
    )


def _routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [Route(HEALTH_PATH, health, methods=["GET"])]
    for service in (calc, currency, images, users, carts, counter, sessions, players, demo,
                    openapi):
        routes.extend(service.routes)
    return merge_routes(routes)  # one route per path: a 405's Allow lists all its methods


async def _connect_stores(ctx: AppContext, stores: Stores, snapshot: RateSnapshot) -> None:
    """Retry until Redis and SQL answer; create the schema, seed and read the rates.

    Once ready, this task stays on as the refresher of the instance's rates copy
    (``reference_rates.py``) until the lifespan ends and cancels it.
    """
    delay = 0.05
    logged: tuple[str, float] | None = None  # the last problem logged, and when
    while True:
        try:
            await stores.redis.ping()
            await sql.ensure_schema(stores.sql)
            if await sql.seed_rates(stores.sql, snapshot.rates, snapshot.as_of):
                log.info("seeded %d rates as of %s", len(snapshot.rates), snapshot.as_of)
            await stores.rates.refresh()
            break
        except Exception as exc:  # any store failure at start-up means "retry"
            problem = store_problem(exc)
            ctx.lifecycle.starting_problem(problem)
            now = time.monotonic()
            if logged is None or logged[0] != problem or now - logged[1] >= PROBLEM_LOG_EVERY_S:
                # The log is where `stateline up` and an operator learn why we are not ready.
                log.warning("instance %s not ready: %s", ctx.instance_id, problem)
                logged = (problem, now)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY_S)
    ctx.attach(stores)
    if ctx.lifecycle.ready():
        log.info("instance %s ready", ctx.instance_id)
    await stores.rates.run()  # from now on this task keeps the rates copy fresh


def _build_stores(settings: Settings) -> Stores:
    if not settings.redis_url:
        raise ValueError("an app instance needs STATELINE_REDIS_URL (or --redis-url)")
    database = sql.open_store(settings.effective_database_url,
                              create_dir=settings.database_url is None)
    return Stores(
        redis=redis_fast.wrap(
            redis_store.connect_bounded(settings.redis_url, decode_responses=True)),
        sql=database,
        rates=ReferenceRates(database),
        blobs=open_blob_store(settings.blob_url, settings.data_dir / "blobs"),
        cpu=CpuPool(workers=settings.image_workers or None),
    )


async def _close(stores: Stores) -> None:
    stores.cpu.close()
    with contextlib.suppress(Exception):
        await stores.redis.aclose()
    with contextlib.suppress(Exception):
        await stores.sql.dispose()
    with contextlib.suppress(Exception):
        await stores.blobs.close()


def create_app(
    settings: Settings,
    instance_id: str | None = None,
    lifecycle: Lifecycle | None = None,
) -> Starlette:
    """The ASGI app for one instance; ``lifecycle`` is shared with the server entry."""
    ident = instance_id or settings.instance_id or f"{settings.host}:{settings.port}"
    ctx = AppContext(settings, ident, lifecycle or Lifecycle())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        snapshot = shipped_snapshot()  # a broken package should fail the start, loudly
        stores = _build_stores(settings)
        await asyncio.to_thread(CpuPool.warm_up)  # the decoders' forkserver imports Pillow now
        starter = asyncio.create_task(_connect_stores(ctx, stores, snapshot))
        try:
            yield
        finally:
            starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starter
            ctx.attach(None)
            await _close(stores)

    # Its stack folds the instance header into the exception layer (front.py).
    app = FrontedStarlette(exception_handlers=EXCEPTION_HANDLERS, instance_id=ident)
    # No redirect from /api/users/ to /api/users: Starlette builds that Location
    # from the Host header, which a client controls. An unknown path is a JSON 404.
    app.router = IndexedRouter(_routes(), redirect_slashes=False, lifespan=lifespan)
    app.state.ctx = ctx
    openapi.publish(app)  # a route without a spec fails here, at creation
    return app
