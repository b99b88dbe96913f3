"""What a handler may reach: the instance's identity and its store clients.

The clients are created once per process at start-up (connection pools are
not request data); nothing in here is written while serving a request. Until
the stores are reachable, :attr:`AppContext.stores` answers 503 so a handler
never half-works against a store that is not there.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from stateline.app.errors import ApiError
from stateline.app.lifecycle import Lifecycle
from stateline.app.reference_rates import ReferenceRates
from stateline.app.workers import CpuPool
from stateline.settings import Settings
from stateline.stores.blobs import BlobStore
from stateline.stores.redis_fast import FastRedis
from stateline.stores.sql import SqlStore


@dataclass(frozen=True)
class Stores:
    """Clients of the stateful tier, plus the CPU pool, built in the app's lifespan."""

    redis: FastRedis
    sql: SqlStore
    rates: ReferenceRates
    blobs: BlobStore
    cpu: CpuPool


class AppContext:
    def __init__(self, settings: Settings, instance_id: str, lifecycle: Lifecycle) -> None:
        self.settings = settings
        self.instance_id = instance_id
        self.lifecycle = lifecycle
        self._stores: Stores | None = None

    def attach(self, stores: Stores | None) -> None:
        """Set (at start-up) or clear (at shutdown) the store clients."""
        self._stores = stores

    @property
    def stores(self) -> Stores:
        if self._stores is None or not self.lifecycle.serving:
            raise ApiError(503, "not_ready", f"instance {self.instance_id} is not ready: "
                           + self.lifecycle.detail)
        return self._stores


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def stores(request: Request) -> Stores:
    return context(request).stores
