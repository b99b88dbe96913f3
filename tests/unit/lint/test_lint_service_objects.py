"""Per-process service objects: what their own writes hold (lint/service_state.py).

Minimal examples written here. A long-lived singleton's own bookkeeping (clock
readings, created instruments, failure counters it resets, readings of this
machine) is per-process by design and stays silent; request data stored in one
(a per-user entry, a once-only alert flag, OAuth state, sockets with no shared
bus behind them) stays reported. Lines that must be reported end with
`# !SLxxx`; every other line must stay silent.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from lint_marks import check

from stateline.lint.facts import facts_of
from stateline.lint.index import build_module
from stateline.lint.service_state import own_bookkeeping
from stateline.lint.source import load


def test_circuit_breaker_and_clock_readings_are_silent(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import time
            from fastapi import FastAPI
            app = FastAPI()

            class Breaker:
                def __init__(self):
                    self.failures = 0
                    self.opened_at = None
                    self.last_ok = 0.0

                def success(self):
                    self.failures = 0
                    self.opened_at = None
                    self.last_ok = time.monotonic()

                def failure(self):
                    self.failures += 1
                    if self.failures >= 5:
                        self.opened_at = time.time()

            breaker = Breaker()

            @app.get("/upstream")
            def upstream(ok: bool):
                if ok:
                    breaker.success()
                else:
                    breaker.failure()
                return {}
            """,
    })


def test_lazily_created_instruments_and_worker_task_are_silent(tmp_path: Path) -> None:
    check(tmp_path, {
        "app.py": """
            import asyncio
            from fastapi import FastAPI
            from opentelemetry import metrics
            app = FastAPI()

            class Metrics:
                def __init__(self):
                    self.meter = metrics.get_meter("svc")
                    self.requests = None
                    self.latency = None
                    self.worker = None

                def ensure(self):
                    if self.requests is None:
                        self.requests = self.meter.create_counter("requests")
                        self.latency = self.meter.create_histogram("latency")
                    if self.worker is None:
                        self.worker = asyncio.create_task(self.flush())

                async def flush(self):
                    pass

                def record(self, path: str):
                    self.ensure()
                    self.requests.add(1, {"path": path})

            METRICS = Metrics()

            @app.get("/items")
            def items():
                METRICS.record("/items")
                return []
            """,
    })


def test_machine_readings_are_silent_but_a_plain_statistics_counter_is_not(
        tmp_path: Path) -> None:
    """A reading of this machine is per-process by nature. A counter the class only adds
    to (never resets or compares) counts requests like any hit counter: reported."""
    check(tmp_path, {
        "app.py": """
            import psutil
            from fastapi import FastAPI
            app = FastAPI()

            class Pool:
                def __init__(self):
                    self._stats = {"reused": 0, "created": 0}
                    self.memory = 0.0

                def acquire(self):
                    self._stats["reused"] += 1  # !SL105
                    self.memory = psutil.virtual_memory().percent

            pool = Pool()

            @app.get("/q")
            def q():
                pool.acquire()
                return {}
            """,
    })


def test_request_data_in_a_singleton_stays_reported(tmp_path: Path) -> None:
    """Values from the caller (a per-user entry, the last user) and a plain hit counter
    the class never resets or compares are data, not bookkeeping."""
    check(tmp_path, {
        "app.py": """
            from fastapi import FastAPI
            app = FastAPI()

            class Presence:
                def __init__(self):
                    self.playing = {}
                    self.last_user = None
                    self.hits = 0

                def update(self, user: str, track: str):
                    self.playing[user] = track  # !SL105
                    self.last_user = user  # !SL105
                    self.hits += 1  # !SL105

            presence = Presence()

            @app.post("/now-playing")
            def now_playing(user: str, track: str):
                presence.update(user, track)
                return {}
            """,
    })


def test_a_rebuilt_copy_of_shared_data_stays_reported(tmp_path: Path) -> None:
    """Rebuilding an object from the database in one process is not a reading of that
    process: the other replicas keep their old copy."""
    check(tmp_path, {
        "app.py": """
            from flask import Flask
            import db
            app = Flask(__name__)

            class Scope:
                def __init__(self):
                    self.rules = None

                def refresh(self):
                    self.rules = db.load_rules()  # !SL105

            scope = Scope()

            @app.post("/admin/scope")
            def set_scope():
                scope.refresh()
                return "ok"
            """,
    })


def _raw_writes(tmp_path: Path, code: str) -> list[tuple[str, bool]]:
    """(statement, own_bookkeeping) for each attribute write in the methods of `code`."""
    path = tmp_path / "svc.py"
    path.write_text(textwrap.dedent(code).lstrip("\n"))
    mod = build_module(load(path, tmp_path))
    return [(ast.unparse(w.node), own_bookkeeping(fn, w)) for fn in mod.all_funcs
            if fn.cls is not None for w in facts_of(fn).writes if w.op == "setattr"]


def test_once_only_alert_flag_is_not_bookkeeping(tmp_path: Path) -> None:
    """`if ... and not self._warned: alert(); self._warned = True` sends the alert once
    per replica: the de-duplication the flag promises does not hold, so the write is not
    treated as the object's own bookkeeping (whatever else decides whether it is
    reported)."""
    got = _raw_writes(tmp_path, """
        import alerts, time

        class Budget:
            def check(self, spend):
                if spend > 100 and not self._warned:
                    alerts.send("over budget")
                    self._warned = True
                self.checked_at = time.time()
        """)
    assert got == [("self._warned = True", False), ("self.checked_at = time.time()", True)]


def test_delivery_set_fed_by_a_shared_bus_is_silent(tmp_path: Path) -> None:
    """Each replica subscribes to Redis pub/sub and delivers to its own sockets."""
    check(tmp_path, {
        "hub.py": """
            import asyncio
            import redis.asyncio as redis

            class Hub:
                def __init__(self):
                    self.rooms = {}
                    self.readers = {}
                    self.redis = redis.Redis()

                async def join(self, room: str, ws):
                    if room not in self.rooms:
                        self.rooms[room] = set()
                        self.readers[room] = asyncio.create_task(self.read(room))
                    self.rooms[room].add(ws)

                async def leave(self, room: str, ws):
                    self.rooms[room].discard(ws)

                async def read(self, room: str):
                    pubsub = self.redis.pubsub()
                    await pubsub.subscribe(room)
                    async for msg in pubsub.listen():
                        for ws in list(self.rooms.get(room, ())):
                            await ws.send_text(str(msg))

                async def publish(self, room: str, text: str):
                    await self.redis.publish(room, text)

            hub = Hub()
            """,
        "app.py": """
            from fastapi import FastAPI, WebSocket
            from hub import hub
            app = FastAPI()

            @app.websocket("/rooms/{room}")
            async def room(websocket: WebSocket, room: str):
                await hub.join(room, websocket)
                try:
                    while True:
                        await hub.publish(room, await websocket.receive_text())
                finally:
                    await hub.leave(room, websocket)
            """,
    })


def test_registry_with_no_bus_behind_it_stays_reported(tmp_path: Path) -> None:
    """The same registry broadcasting from this process's memory: clients connected to
    another replica never hear it."""
    check(tmp_path, {
        "app.py": """
            from fastapi import FastAPI, WebSocket
            app = FastAPI()

            class Hub:
                def __init__(self):
                    self.rooms = {}

                async def join(self, room: str, ws):
                    self.rooms.setdefault(room, set()).add(ws)  # !SL112

                async def broadcast(self, room: str, text: str):
                    for ws in self.rooms.get(room, ()):
                        await ws.send_text(text)

            hub = Hub()

            @app.websocket("/rooms/{room}")
            async def room(websocket: WebSocket, room: str):
                await hub.join(room, websocket)
                while True:
                    await hub.broadcast(room, await websocket.receive_text())
            """,
    })


def test_middleware_counters_stay_reported_but_a_housekeeping_tick_does_not(
        tmp_path: Path) -> None:
    """A middleware instance counting requests keeps a per-process count (reported);
    a counter read only as `n % N` schedules the object's own clean-up."""
    check(tmp_path, {
        "app.py": """
            import time
            from fastapi import FastAPI
            from starlette.middleware.base import BaseHTTPMiddleware
            app = FastAPI()

            class Counting(BaseHTTPMiddleware):
                def __init__(self, app):
                    super().__init__(app)
                    self.count = 0
                    self._ticks = 0
                    self.last = 0.0

                async def dispatch(self, request, call_next):
                    self.count += 1  # !SL105
                    self.last = time.time()  # !SL105
                    self._ticks += 1
                    if self._ticks % 100 == 0:
                        self._sweep()
                    return await call_next(request)

                def _sweep(self):
                    pass

            app.add_middleware(Counting)
            """,
    })


def test_memoised_class_level_config_is_silent(tmp_path: Path) -> None:
    """A class-level memo of configuration and the key it was computed for (written in
    the same block) are created once per process, like a lazily built client."""
    check(tmp_path, {
        "app.py": """
            import os
            from fastapi import FastAPI
            app = FastAPI()

            class UrlBuilder:
                _url = None
                _env = None

                @staticmethod
                def base_url() -> str:
                    env = os.getenv("ENV", "dev").lower()
                    if UrlBuilder._url and UrlBuilder._env == env:
                        return UrlBuilder._url
                    url = os.getenv("REDIS_URL", "redis://localhost").rstrip("/")
                    UrlBuilder._url = url
                    UrlBuilder._env = env
                    return url

            @app.get("/ping")
            def ping():
                return {"url": UrlBuilder.base_url()}
            """,
    })


def test_session_engine_set_in_a_test_module_is_no_deployment(tmp_path: Path) -> None:
    check(tmp_path, {
        "shop/settings.py": """
            SESSION_ENGINE = "django.contrib.sessions.backends.cache"  # !SL110
            """,
        "shop/tests/test_login.py": """
            from django.test import TestCase, override_settings

            @override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache")
            class LoginTests(TestCase):
                pass
            """,
    })
