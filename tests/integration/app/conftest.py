"""Fixtures for the app tier: the real ASGI app in-process against real stores.

``app_client`` builds an app instance (``create_app``) on a real Redis and a real
SQL database, runs its lifespan on an event loop in a helper thread and talks to
it through httpx's ASGI transport, once the instance reports ready. Keys are
never flushed: the cluster is shared by the session, so every test uses its own
ids (``unique``) and counter tests compare values before and after.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from starlette.applications import Starlette

from stateline.app.factory import create_app
from stateline.settings import Settings


class AppClient:
    """A blocking HTTP client for an app running in-process on its own event loop.

    The app's lifespan (store clients, start-up) runs in a thread with an event
    loop (an anyio blocking portal); requests go through httpx's ASGI transport,
    so tests stay synchronous and work with Hypothesis.
    """

    def __init__(self, app: Starlette, portal: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self._portal = portal
        self._client = client

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(lambda: self._client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def asgi(self, method: str, path: str, headers: list[tuple[bytes, bytes]],
             incoming: list[dict[str, Any]], query: bytes = b"") -> list[dict[str, Any]]:
        """Call the app as a server would and return the messages it sent.

        ``receive()`` hands out ``incoming`` in order and then ``http.disconnect``
        for ever, which is what a server does once the client has hung up: the
        way to test what httpx's transport cannot do (vanish mid-body).
        """
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query, "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        }
        pending = list(incoming)
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        self._portal.call(self.app, scope, receive, send)
        return sent

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            response = self.get("/_stateline/health")
            if response.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"app not ready: {response.json()}")
            time.sleep(0.05)


@contextmanager
def running_app(settings: Settings, instance_id: str, ready: bool = True,
                raise_app_exceptions: bool = True) -> Iterator[AppClient]:
    """Run ``create_app(settings)`` with its lifespan; yield a client once it is ready."""
    app = create_app(settings, instance_id)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    with start_blocking_portal() as portal:
        lifespan = app.router.lifespan_context(app)
        portal.call(lifespan.__aenter__)
        client = portal.call(lambda: _client(transport))
        try:
            wrapped = AppClient(app, portal, client)
            if ready:
                wrapped.wait_ready()
            yield wrapped
        finally:
            portal.call(client.aclose)
            portal.call(lifespan.__aexit__, None, None, None)


async def _client(transport: httpx.ASGITransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, base_url="http://app.test")


@pytest.fixture(scope="session")
def run_app() -> Callable[..., AbstractContextManager[AppClient]]:
    """``run_app(settings, instance_id, ready=True)``: an app instance as a context manager."""
    return running_app


@pytest.fixture
def unique() -> str:
    """A fresh id for this test's keys."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(params=["redis", "redis-cluster"])
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """The Redis services run against a single server and against a cluster."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return str(request.getfixturevalue("redis_cluster_url"))


def _reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS users, rates")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or the session's PostgreSQL with no tables."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stateline.db'}"
    url = str(request.getfixturevalue("postgres_url"))
    _reset_postgres(url)
    return url


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    def make(redis_url: str, database_url: str | None = None) -> Settings:
        return Settings(redis_url=redis_url, data_dir=tmp_path / "data",
                        database_url=database_url or f"sqlite:///{tmp_path / 'stateline.db'}")
    return make


@pytest.fixture
def app_client(redis_url: str, settings_for: Callable[..., Settings]) -> Iterator[AppClient]:
    """One ready instance on the single Redis and a SQLite file."""
    with running_app(settings_for(redis_url), "app-test") as client:
        yield client
