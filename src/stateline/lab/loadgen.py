"""An HTTP/1.1 load generator on uvloop + httptools, open or closed loop.

- **Open loop** (``rate``): requests are due at the times of a
  :class:`~stateline.lab.schedule.Schedule`, whether or not earlier ones were
  answered. Each is sent on an idle keep-alive connection; when all
  ``connections`` are busy it waits, and its latency is measured from the
  *intended* send time, so the wait counts (no coordinated omission).
- **Closed loop** (``rate=None``): each of ``connections`` sends its next
  request as soon as the previous one is answered; latency from the send.

The hot path is callbacks on :class:`asyncio.Protocol` objects (no task or
future per request) so that one core drives well over 5,000 requests/second.
Results go to a :class:`~stateline.lab.stats.Recorder`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httptools

from stateline.lab.histogram import Histogram
from stateline.lab.mix import Mix, RequestTemplate, default_mix, single
from stateline.lab.progress import Tick, report, watched
from stateline.lab.schedule import Schedule
from stateline.lab.stats import Recorder

OPEN_LOOP_CONNECTIONS = 64
_SERVED_BY = b"x-served-by"
_REPLAYED = b"idempotent-replayed"


@dataclass
class LoadConfig:
    """One load run. ``rate`` set: open loop; ``rate`` None: closed loop."""

    url: str
    rate: float | None = None
    connections: int | None = None
    duration: float = 10.0
    mix: Mix | None = None
    spacing: str = "constant"
    timeout: float = 5.0
    seed: int | None = None
    resolution: float = 1.0  # width of one timeline bucket, seconds
    #: Send every write with a fresh Idempotency-Key.
    idempotency_keys: bool = False
    #: With keys: the share of answered keyed writes sent once more, same key and
    #: bytes, as a client that retries would. A repeat answered without
    #: ``Idempotent-Replayed`` was applied twice: a duplicate.
    repeat: float = 0.0
    #: What progress displays call this load (an experiment names its phases).
    label: str = "load"

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"need an http:// URL, got {self.url!r}")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.connections is not None and self.connections < 1:
            raise ValueError("connections must be at least 1")
        if not 0.0 <= self.repeat <= 1.0:
            raise ValueError("repeat must be within 0..1")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    @property
    def n_connections(self) -> int:
        if self.connections is not None:
            return self.connections
        return OPEN_LOOP_CONNECTIONS if self.rate is not None else 16

    def resolved_mix(self) -> Mix:
        """The mix aimed at this URL: the given one, else by the URL's path.

        A URL without a path ("/") gets the default stateline mix; a URL with a
        path gets a plain GET of exactly that path (so any server can be measured).
        """
        parts = urlsplit(self.url)
        netloc = parts.netloc
        if self.mix is not None:
            mix = self.mix.with_target(netloc, parts.path)
        elif parts.path in ("", "/") and not parts.query:
            mix = default_mix().with_target(netloc)
        else:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            mix = single("GET", target).with_target(netloc)
        return mix.with_idempotency_keys() if self.idempotency_keys else mix


class _Conn(asyncio.Protocol):
    """One keep-alive connection; carries at most one request at a time."""

    __slots__ = ("gen", "parser", "repeat", "replayed", "sent", "served_by", "started",
                 "template", "transport")

    def __init__(self, gen: LoadGenerator) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.template: RequestTemplate | None = None
        self.started = 0.0  # latency origin: intended (open loop) or actual send time
        self.served_by: str | None = None
        self.sent = b""  # the request's bytes, kept when keyed writes may be repeated
        self.repeat = False  # this request is a repeat of an answered one
        self.replayed = False

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.gen._ready(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.gen._failed(self, "bad_response")

    def connection_lost(self, exc: Exception | None) -> None:
        self.gen._lost(self)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname == _SERVED_BY:
            self.served_by = value.decode("latin-1")
        elif lname == _REPLAYED:
            self.replayed = True

    def on_message_complete(self) -> None:
        keep = self.parser.should_keep_alive()
        self.gen._answered(self, self.parser.get_status_code(), keep)


class LoadGenerator:
    """Drives one :class:`LoadConfig` and fills a :class:`Recorder`."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.mix = config.resolved_mix()
        self.recorder = Recorder(config.resolution)
        self.rng = random.Random(config.seed)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.t0 = 0.0
        self.running = False
        self.idle: list[_Conn] = []
        self.busy: set[_Conn] = set()
        self.live = 0  # open or opening connections
        self.pending: deque[float] = deque()  # open loop: intended times not yet sent
        self.schedule: Schedule | None = None
        #: Open loop: how long after its intended time each request was written
        #: (waiting for a free connection included): the generator's own lateness.
        self.send_lag = Histogram()
        self.elapsed = 0.0
        #: Answered keyed writes waiting to be sent again (see ``LoadConfig.repeat``).
        self.repeats: deque[tuple[RequestTemplate, bytes]] = deque()
        self.keyed = {"keyed": 0, "repeats": 0, "replays": 0, "duplicates": 0}

    # -- connection life cycle -------------------------------------------------
    def _now(self) -> float:
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
        return time.perf_counter() - self.t0

    async def _connect(self) -> None:
        loop = self.loop
        assert loop is not None
        self.live += 1
        try:
            await loop.create_connection(lambda: _Conn(self), self.config.host, self.config.port)
        except OSError:
            self.live -= 1
            if self.running:
                now = self._now()
                if self.config.rate is None:
                    self.recorder.error(now, "connect")
                elif not (self.idle or self.busy):
                    # No connection at all: every request due now had nowhere to go.
                    while self.pending:
                        self.pending.popleft()
                        self.recorder.error(now, "connect")
                elif self.pending:
                    self.pending.popleft()
                    self.recorder.error(now, "connect")
                await asyncio.sleep(0.05)  # do not spin on a refused port
                if self.running:
                    loop.create_task(self._connect())

    def _ready(self, conn: _Conn) -> None:
        self.idle.append(conn)
        if self.running:
            self._dispatch()

    def _lost(self, conn: _Conn) -> None:
        self.live -= 1
        if conn in self.busy:
            self.busy.discard(conn)
            if self.running or conn.template is not None:
                self.recorder.error(self._now(), "reset")
            conn.template = None
        if conn in self.idle:
            self.idle.remove(conn)
        if self.running and self.live < self.config.n_connections:
            self.loop.create_task(self._connect())  # type: ignore[union-attr]

    def _failed(self, conn: _Conn, kind: str) -> None:
        if conn in self.busy:
            self.busy.discard(conn)
            conn.template = None
            self.recorder.error(self._now(), kind)
        if conn.transport is not None:
            conn.transport.abort()

    # -- the request path --------------------------------------------------------
    def _send(self, conn: _Conn, started: float) -> None:
        conn.served_by = None
        if self.repeats:
            t, raw = self.repeats.popleft()
            conn.repeat, conn.replayed = True, False
        else:
            t = self.mix.choose(self.rng)
            raw = self.mix.render(t, self.rng)
            conn.repeat = False
            if self.config.repeat and self.mix.keyed(t):
                conn.sent, conn.replayed = raw, False
        conn.template = t
        conn.started = started
        self.busy.add(conn)
        conn.transport.write(raw)  # type: ignore[union-attr]

    def _count_keyed(self, conn: _Conn, t: RequestTemplate, status: int) -> None:
        """Keyed writes: count them, queue some for a repeat, judge the repeats."""
        counts = self.keyed
        if conn.repeat:
            counts["repeats"] += 1
            if conn.replayed:
                counts["replays"] += 1
            elif 200 <= status < 300:
                counts["duplicates"] += 1
            return
        counts["keyed"] += 1
        if conn.sent and 200 <= status < 300 and self.rng.random() < self.config.repeat:
            self.repeats.append((t, conn.sent))
        conn.sent = b""

    def _answered(self, conn: _Conn, status: int, keep_alive: bool) -> None:
        t = conn.template
        if t is None:  # a response nobody asked for (after a timeout): drop the connection
            if conn.transport is not None:
                conn.transport.abort()
            return
        now = self._now()
        self.busy.discard(conn)
        conn.template = None
        self.recorder.response(now, now - conn.started, t.ok(status), status, conn.served_by)
        if self.mix.idempotency_keys and self.mix.keyed(t):
            self._count_keyed(conn, t, status)
        if not keep_alive:
            conn.transport.close()  # type: ignore[union-attr]
            return
        self.idle.append(conn)
        if self.running:
            self._pump()

    def _dispatch(self) -> None:
        idle = self.idle
        if self.config.rate is None:
            now = self._now()
            while idle:
                self._send(idle.pop(), now)
            return
        pending = self.pending
        if not (idle and pending):
            return
        now = self._now()
        lag = self.send_lag
        while idle and pending:
            intended = pending.popleft()
            lag.record(now - intended)
            self._send(idle.pop(), intended)

    def _sweep(self) -> None:
        """Time out requests in flight, and (open loop) requests waiting too long."""
        now = self._now()
        limit = self.config.timeout
        for conn in [c for c in self.busy if now - c.started > limit]:
            self._failed(conn, "timeout")
        pending = self.pending
        while pending and now - pending[0] > limit:
            pending.popleft()
            self.recorder.error(now, "timeout")

    # -- running -----------------------------------------------------------------
    async def run(self, on_progress: Callable[[LoadGenerator], None] | None = None,
                  progress_interval: float = 0.5) -> dict[str, Any]:
        """Run the load; returns the results as a JSON-able dict."""
        cfg = self.config
        self.loop = asyncio.get_running_loop()
        self.t0 = time.perf_counter()
        await asyncio.gather(*(self._connect() for _ in range(cfg.n_connections)),
                             return_exceptions=True)
        self.t0 = time.perf_counter()
        self.running = True
        for _ in range(cfg.n_connections - self.live):  # those refused before the start
            self.loop.create_task(self._connect())
        sweeper = self.loop.create_task(self._sweeper())
        progress = (self.loop.create_task(self._progress(on_progress, progress_interval))
                    if on_progress or watched() else None)
        try:
            if cfg.rate is None:
                self._dispatch()
                await asyncio.sleep(cfg.duration)
            else:
                await self._open_loop()
        finally:
            self.running = False
            self.elapsed = self._now()
            await self._drain()
            sweeper.cancel()
            if progress:
                progress.cancel()
            for conn in list(self.idle) + list(self.busy):
                if conn.transport is not None:
                    conn.transport.abort()
            await asyncio.sleep(0)
        return self.result()

    async def _open_loop(self) -> None:
        """Release requests as they fall due.

        Timers tick in whole milliseconds (uvloop rounds a shorter sleep down to
        zero, which would spin the CPU), so between ticks the schedule is also
        checked after every response (:meth:`_pump`): at high rates that is
        often, and requests go out within microseconds of their intended time.
        How late they went out is recorded as ``send_lag``.
        """
        cfg = self.config
        assert cfg.rate is not None
        schedule = self.schedule = Schedule(cfg.rate, cfg.duration, cfg.spacing, cfg.seed)
        while not schedule.finished:
            self._pump()
            delay = schedule.next_time - self._now()
            await asyncio.sleep(delay if delay > 0.001 else 0.001)

    def _pump(self) -> None:
        schedule = self.schedule
        if schedule is not None and schedule.next_time <= self._now():
            self.pending.extend(schedule.due(self._now()))
        self._dispatch()

    async def _drain(self) -> None:
        """After the last send, give answers in flight up to ``timeout`` to arrive."""
        deadline = time.monotonic() + self.config.timeout
        while (self.busy or self.pending) and time.monotonic() < deadline:
            self._dispatch_pending_after_end()
            await asyncio.sleep(0.005)
        now = self._now()
        for conn in list(self.busy):
            self.busy.discard(conn)
            conn.template = None
            self.recorder.error(now, "timeout")
        while self.pending:
            self.pending.popleft()
            self.recorder.error(now, "timeout")

    def _dispatch_pending_after_end(self) -> None:
        idle, pending = self.idle, self.pending
        while idle and pending:
            self._send(idle.pop(), pending.popleft())

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            self._sweep()

    async def _progress(self, callback: Callable[[LoadGenerator], None] | None,
                        interval: float) -> None:
        """Every ``interval``: the caller's callback, and a tick for the process's
        progress listeners (:mod:`stateline.lab.progress`), if any."""
        while True:
            await asyncio.sleep(interval)
            if callback is not None:
                callback(self)
            if watched():
                report(self.tick())

    def tick(self) -> Tick:
        """How far this load is, and how it goes over the last second."""
        now = self._now()
        r = self.recorder.recent(now)
        return Tick(t=now, total=self.config.duration, rps=r["rate"],
                    errors_per_s=r["error_rate"], errors=self.recorder.failed,
                    p50_ms=r["p50_ms"], p99_ms=r["p99_ms"], label=self.config.label)

    def result(self) -> dict[str, Any]:
        cfg = self.config
        out: dict[str, Any] = {
            "url": cfg.url,
            "mode": "open" if cfg.rate is not None else "closed",
            "rate": cfg.rate,
            "spacing": cfg.spacing if cfg.rate is not None else None,
            "connections": cfg.n_connections,
            "mix": self.mix.describe(),
        }
        out.update(self.recorder.to_json(self.elapsed or cfg.duration))
        if cfg.rate is not None:
            out["send_lag"] = self.send_lag.summary()
        if cfg.idempotency_keys:
            out["idempotency"] = {**self.keyed, "repeat": cfg.repeat}
        return out


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop where available (it is what makes one core enough)."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return asyncio.new_event_loop()


def run_load(config: LoadConfig,
             on_progress: Callable[[LoadGenerator], None] | None = None) -> dict[str, Any]:
    """Run one load to completion on a fresh uvloop loop (blocking)."""
    loop = new_event_loop()
    try:
        return loop.run_until_complete(LoadGenerator(config).run(on_progress))
    finally:
        loop.close()
