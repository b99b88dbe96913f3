"""``stateline up``: start the whole architecture on one machine and keep it running.

Order of start: stores (the embedded Redis Cluster unless ``STATELINE_REDIS_URL``
is set; SQLite needs nothing), then N app instances together with the embedded
SeaweedFS (unless ``STATELINE_BLOB_URL`` is set; see :mod:`blob_server`), then
the gateway, each waited on until healthy. While running, the supervisor restarts whatever exits
(with backoff, see :mod:`restart_policy`), answers the control socket
(:mod:`control`) and logs one line per event. On SIGINT/SIGTERM or ``down`` it
stops the gateway first and gives it up to ``gateway_grace`` seconds to finish
the requests it holds (the apps they go to are still up), then the apps
(SIGTERM so they drain, SIGKILL for stragglers), and Redis last (SIGTERM, so
every node flushes its AOF) with SeaweedFS beside it (SIGKILL after 1 s), within
10 seconds.

Everything runs on the main thread: children are spawned there (their
PR_SET_PDEATHSIG is tied to the spawning thread), and an asyncio loop
multiplexes the monitor, health probes and control connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.markup import escape

from stateline.local import blob_server, procs
from stateline.local.control import ControlError, ControlServer, Request
from stateline.local.health import Outcome, wait_healthy
from stateline.local.lock import DataDirLock
from stateline.local.managed import ManagedProcess, explain_failed_starts, stop_stateless
from stateline.local.private import UMASK, ensure_private_dir
from stateline.local.redis_cluster import ClusterError, EmbeddedRedisCluster
from stateline.local.redis_nodes import RedisWatch
from stateline.local.restart_policy import BackoffConfig, GiveUp, RestartPolicy, RestartState
from stateline.local.specs import (
    Commands,
    StatelineCommands,
    app_spec,
    gateway_spec,
    shard_spec,
)
from stateline.local.table import fitted_table, guide
from stateline.settings import Settings
from stateline.stores.blobs import redact_blob_url
from stateline.stores.redis import connect_sync, redacted

TICK = 0.1
#: How many lines of a failed child's log the start-up error shows.
LOG_TAIL_LINES = 10


class StartupError(RuntimeError):
    """Something did not come up; the message says what and where its log is."""


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        commands: Commands | None = None,
        console: Console | None = None,
        backoff: BackoffConfig | None = None,
        drain_timeout: float = 6.0,
        ready_timeout: float = 60.0,
        stuck_after: float = 15.0,
        gateway_grace: float = 5.0,
        ui_port: int | None = None,
    ) -> None:
        #: The data dir as the user wrote it, for the commands the guide suggests.
        self.shown_data_dir = str(settings.data_dir)
        data_dir = settings.data_dir.resolve()
        self.settings = settings.with_(data_dir=data_dir)
        self.commands = commands or StatelineCommands()
        # Off a terminal (a log file, a test's pipe) use wide lines, not 80 columns.
        self.console = console or Console(
            highlight=False, width=None if sys.stdout.isatty() else 200)
        self.policy = RestartPolicy(backoff)
        self.drain_timeout = drain_timeout
        self.ready_timeout = ready_timeout
        #: A child reporting the same problem on its health endpoint this long is given up on.
        self.stuck_after = stuck_after
        self.gateway_grace = gateway_grace
        #: Where the dashboard listens (None: no dashboard); see :mod:`stateline.dashboard`.
        self.ui_port = ui_port
        self.cluster: EmbeddedRedisCluster | None = None
        self.redis_watch: RedisWatch | None = None
        self.procs: dict[str, ManagedProcess] = {}
        #: The embedded SeaweedFS, when ``blob_url`` is unset and the wheel is installed.
        self.blob_server: blob_server.BlobServer | None = None
        self._lock = DataDirLock(data_dir)
        self._ops = asyncio.Lock()
        self._stop: asyncio.Event | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task[Outcome]] = set()

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    # -- entry -------------------------------------------------------------

    def run(self) -> int:
        """Run in the foreground until told to stop; returns the exit code.

        The data dir is made (or made again) private first, and everything runs
        with umask 077, so that what the children create is the owner's alone
        (see :mod:`stateline.local.private`). A start refused before anything
        ran leaves no new data dir behind.
        """
        created = ensure_private_dir(self.data_dir)
        previous_umask = os.umask(UMASK)
        try:
            self._lock.acquire()
        except BaseException:
            os.umask(previous_umask)
            self._discard_if_unused(created)
            raise
        previous_int = signal.getsignal(signal.SIGINT)
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            # Before the Redis Cluster starts: a taken port should cost a second, not ten.
            if problem := procs.bind_problem(self.settings.port):
                raise StartupError(f"{problem}; choose another with --port")
            self._start_stores()
            return asyncio.run(self._main())
        except KeyboardInterrupt:
            self._note("interrupted during start-up; stopping")
            return 130
        except StartupError as exc:
            # Escaped: the message quotes log lines, and "[...]" in them is not markup.
            self.console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            return 1
        finally:
            self._stop_everything()
            self._lock.release()
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)
            os.umask(previous_umask)
            self._discard_if_unused(created)

    def _discard_if_unused(self, created: bool) -> None:
        """Remove a data dir this run made if nothing was ever started in it (a refusal)."""
        if created and self.cluster is None and not self.procs:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _start_stores(self) -> None:
        if self.settings.database_url:  # refused before anything starts, like a taken port
            from stateline.stores.sql import sqlite_problem

            try:
                problem = sqlite_problem(self.settings.database_url)
            except ValueError as exc:
                problem = str(exc)
            if problem:
                raise StartupError(f"STATELINE_DATABASE_URL: {problem}")
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        redis_url = self.settings.redis_url
        if redis_url is None:
            self._note("starting the embedded Redis Cluster (3 masters, 3 replicas)")
            self.cluster = EmbeddedRedisCluster(self.data_dir)
            try:
                self.cluster.start()
            except (ClusterError, RuntimeError) as exc:
                raise StartupError(str(exc)) from exc
            self.redis_watch = RedisWatch(self.cluster, self.policy)
            redis_url = self.cluster.url
        else:
            try:
                client = connect_sync(redis_url, socket_timeout=3, socket_connect_timeout=3)
                client.ping()
                client.close()
            except (redis.RedisError, OSError, ValueError) as exc:
                raise StartupError(f"cannot reach STATELINE_REDIS_URL {redacted(redis_url)}: "
                                   f"{exc}") \
                    from exc
        self.settings = self.settings.with_(
            redis_url=redis_url, registry_url=redis_url,
            database_url=self.settings.effective_database_url,
            blob_url=self._choose_blob_store())

    def _choose_blob_store(self) -> str:
        """``STATELINE_BLOB_URL`` if set; else the embedded SeaweedFS; else the folder."""
        if self.settings.blob_url:
            return self.settings.blob_url
        try:
            self.blob_server, url, note = blob_server.embedded_or_folder(self.data_dir)
        except blob_server.BlobServerError as exc:
            raise StartupError(str(exc)) from exc
        self._note(note)
        return url

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        server = ControlServer(self.data_dir, self._handle)
        dashboard: Any = None
        live: asyncio.Task[None] | None = None
        try:
            apps = [self._add_app(i) for i in range(1, self.settings.apps + 1)]
            # The apps do not wait for the blob server (only image calls need it): start both.
            blobs = [self._add_blobs()] if self.blob_server is not None else []
            apps += [self._add_shard(i) for i in range(1, self.settings.shards + 1)]
            await self._start_all(blobs + apps)
            if self.blob_server is not None and not self._stop.is_set():
                try:
                    await asyncio.to_thread(self.blob_server.ensure_bucket)
                except OSError as exc:
                    raise StartupError(f"the blob server did not create its bucket: {exc}; "
                                       f"see {self.blob_server.log_path}") from exc
                # Restarts from now on wait for the canary to read back (see blob_server).
                self.procs[blob_server.BLOB_ID].spec = self.blob_server.spec()
            if not self._stop.is_set():
                await self._start_all([self._add_gateway()])
            if self._stop.is_set():
                self._note("interrupted during start-up; stopping")
                return 130
            await server.start()
            # Too narrow for the log column? The guide below names the logs dir anyway.
            if not self.console.is_terminal:  # in a terminal the live table below shows it
                table, _ = fitted_table(self.console, await self._processes(),
                                        str(self.data_dir))
                self.console.print(table)
            self.console.print(guide(self._urls(), self.shown_data_dir), soft_wrap=True)
            dashboard = await self._start_dashboard()
            if self.console.is_terminal:
                from stateline.local.live import live_table

                live = asyncio.create_task(
                    live_table(self.console, self._processes, self.shown_data_dir))
            monitor = asyncio.create_task(self._monitor())
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait([monitor, stop], return_when=asyncio.FIRST_COMPLETED)
            if monitor.done() and monitor.exception() is not None:
                # A bug or an OS error in the supervisor itself: stop everything
                # rather than leave processes running unsupervised.
                exc = monitor.exception()
                self.console.print("[bold red]error:[/] the supervisor failed: "
                                   + escape(repr(exc)))
                stop.cancel()
                return 1
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
            self._note("stopping")
            return 0
        finally:
            self._stopping = True
            if live is not None:
                live.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await live
            if dashboard is not None:
                await dashboard.close()
            await server.close()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def _start_dashboard(self) -> Any:
        """Serve the dashboard and print its address; a taken port only costs the page."""
        if self.ui_port is None:
            return None
        from stateline.dashboard import attach

        try:
            dashboard = await attach.start(self, self.ui_port)
        except OSError as exc:
            self._note(f"[yellow]dashboard not started: port {self.ui_port}: {exc.strerror}; "
                       "choose another with --ui-port[/]")
            return None
        self.console.print(f"[bold]dashboard[/] {dashboard.url_with_token}   "
                           "(the token enables its controls; without it the page is read-only)",
                           soft_wrap=True)
        return dashboard

    # -- processes ---------------------------------------------------------

    def _add_app(self, number: int) -> ManagedProcess:
        ident = f"app-{number}"
        m = ManagedProcess(app_spec(self.commands, self.settings, ident, procs.free_port()))
        self.procs[ident] = m
        return m

    def _add_shard(self, number: int) -> ManagedProcess:
        ident = f"shard-{number}"
        m = ManagedProcess(shard_spec(self.commands, self.settings, ident, procs.free_port()))
        self.procs[ident] = m
        return m

    def _add_blobs(self) -> ManagedProcess:
        assert self.blob_server is not None
        m = ManagedProcess(self.blob_server.spec())
        self.procs[m.id] = m
        return m

    def _add_gateway(self) -> ManagedProcess:
        m = ManagedProcess(gateway_spec(self.commands, self.settings, self.settings.port))
        self.procs["gateway"] = m
        return m

    def _spawn(self, m: ManagedProcess) -> None:
        if problem := procs.bind_problem(m.spec.port, m.spec.host):
            if m.spec.role == "gateway":
                raise StartupError(f"{problem}; choose another with --port")
            if m.spec.role == "blobs":  # its ports are kept in topology.json
                raise StartupError(f"{problem} (the blob server's S3 port)")
            m.spec = m.spec.on_port(procs.free_port(), self.commands, self.settings)
        m.spawn(self.policy, time.monotonic())

    async def _start_all(self, ms: list[ManagedProcess]) -> None:
        """Spawn and wait until every one is healthy; a start-up failure is fatal."""
        for m in ms:
            self._spawn(m)
        results = await asyncio.gather(*(self._await_health(m) for m in ms))
        failed = [(m, r) for m, r in zip(ms, results, strict=True) if not r.ok]
        if failed and not (self._stop and self._stop.is_set()):
            raise StartupError(explain_failed_starts(
                [(m, r.why) for m, r in failed], LOG_TAIL_LINES))

    def _why_not_up(self, m: ManagedProcess, outcome: Outcome) -> str:
        return m.why_not_up(outcome.why or "did not become healthy", LOG_TAIL_LINES)

    async def _await_health(self, m: ManagedProcess) -> Outcome:
        assert m.proc is not None
        proc = m.proc
        stop_wait = asyncio.ensure_future(self._stop.wait()) if self._stop else None
        health = asyncio.ensure_future(self._healthy(m, proc))
        waiting = [t for t in (health, stop_wait) if t is not None]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for t in waiting:
            t.cancel()
        if health.done() and not health.cancelled():
            outcome = health.result()
        else:
            outcome = Outcome(False, "was stopped while starting")
        if outcome.ok and m.proc is proc and m.state == "starting":
            m.state = "up"
        return outcome

    async def _healthy(self, m: ManagedProcess, proc: Any) -> Outcome:
        outcome = Outcome(True)
        for port, path in ((m.spec.port, m.spec.health_path), *m.spec.also_ready):
            outcome = await wait_healthy(proc, port, self.ready_timeout, path=path,
                                         stuck_after=self.stuck_after, host=m.spec.host)
            if not outcome.ok:
                break
        return outcome

    async def _monitor(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            for m in list(self.procs.values()):
                if m.exited_unexpectedly():
                    self._on_exit(m, now)
                elif m.state == "backoff" and m.restart_at is not None and now >= m.restart_at:
                    try:
                        self._spawn(m)
                    except (StartupError, OSError) as exc:
                        self._retry_later(m, now, str(exc))
                        continue
                    self._note(f"{m.id} restarted as pid {m.proc.pid if m.proc else '?'}")
                    task = loop.create_task(self._await_health(m))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            if self.redis_watch is not None:
                await self.redis_watch.tick(self._note)
            await asyncio.sleep(TICK)

    def _on_exit(self, m: ManagedProcess, now: float) -> None:
        how = m.exit_description()
        decision = m.on_exit(self.policy, now)
        if isinstance(decision, GiveUp):
            self._note(f"[red]{m.id} {how}; {decision.reason}[/] (log: {m.spec.log_path})")
        else:
            delay = max(0.0, decision.at - now)
            self._note(f"{m.id} {how}; restarting" + (f" in {delay:.2g}s" if delay else ""))

    def _retry_later(self, m: ManagedProcess, now: float, why: str) -> None:
        """A restart that could not even spawn (port taken, say) counts as a quick crash."""
        started = self.policy.started(m.restart, now)  # a start that failed at once
        m.restart, decision = self.policy.exited(started, now, requested=False)
        if isinstance(decision, GiveUp):
            m.state, m.reason, m.restart_at = "failed", f"{why}; {decision.reason}", None
            self._note(f"[red]{m.id} could not be restarted: {escape(m.reason)}[/]")
        else:
            m.restart_at = decision.at
            self._note(f"{m.id} could not be restarted ({escape(why)}); trying again")

    # -- control socket ----------------------------------------------------

    async def _handle(self, req: Request) -> dict[str, Any]:
        if req.cmd == "status":
            return {"ok": True, "processes": await self._processes(), **self._urls()}
        if req.cmd == "down":
            assert self._stop is not None
            asyncio.get_running_loop().call_soon(self._stop.set)
            return {"ok": True}
        async with self._ops:
            if self._stopping:
                raise ControlError("shutting_down", "the supervisor is shutting down")
            if req.cmd == "scale" and req.shards is not None:
                if self.settings.shards == 0 and req.shards > 0:
                    raise ControlError("no_rooms_route", "started with --shards 0, so the "
                                       "gateway has no /api/rooms/ route; start `stateline up` "
                                       "with --shards N")
                return {"ok": True, "shards": await self._scale(req.shards, role="shard")}
            if req.cmd == "scale":
                assert req.apps is not None
                return {"ok": True, "apps": await self._scale(req.apps)}
            assert req.id is not None
            if req.cmd == "restart":
                return {"ok": True, "pid": await self._restart(req.id)}
            return {"ok": True, "pid": self._kill(req.id)}

    def _urls(self) -> dict[str, str]:
        return {"gateway_url": f"http://{self.procs['gateway'].spec.address}"
                       if "gateway" in self.procs else f"http://127.0.0.1:{self.settings.port}",
                "redis_url": redacted(self.settings.redis_url or ""),
                "database_url": self.settings.database_url or "",
                "blob_url": redact_blob_url(self.settings.blob_url or "")}

    async def _processes(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [m.as_status() for m in self.procs.values()]
        if self.redis_watch is not None:
            rows += await self.redis_watch.status()
        return rows

    def _is_redis(self, ident: str) -> bool:
        return self.redis_watch is not None and ident in self.redis_watch.node_ids()

    def _managed(self, ident: str) -> ManagedProcess:
        m = self.procs.get(ident)
        if m is None:
            known = sorted(self.procs) + (self.redis_watch.node_ids() if self.redis_watch else [])
            raise ControlError("unknown_id", f"no process {ident!r}; known: {', '.join(known)}")
        return m

    def _kill(self, ident: str) -> int:
        if self.redis_watch is not None and self._is_redis(ident):
            pid = self.redis_watch.kill(ident)
            self._note(f"{ident} killed on request (pid {pid})")
            return pid
        m = self._managed(ident)
        if m.proc is None or not m.alive() or m.state not in ("starting", "up"):
            hint = (f"; start it again with `stateline restart {ident}`"
                    if m.state == "failed" else "")
            raise ControlError("not_running", f"{ident} is not running (state {m.state}){hint}")
        m.kill_requested = True
        pid = m.proc.pid
        procs.kill_group(m.proc)
        return pid

    async def _restart(self, ident: str) -> int:
        """Start ``ident`` afresh with a clean crash record; returns its new pid once healthy.

        This is how a ``failed`` process (one the restart policy gave up on)
        comes back after the user fixed its cause. A running app or gateway is
        stopped gracefully first (SIGTERM, so it drains), which also makes
        ``restart`` the gentle way to bounce one, where ``kill`` is the crash.
        """
        if self.redis_watch is not None and self._is_redis(ident):
            pid = self.redis_watch.revive(ident)
            self._note(f"{ident} restarted on request as pid {pid}")
            return pid
        m = self._managed(ident)
        if m.alive():
            m.state = "draining"  # the monitor leaves a draining process alone
            # SeaweedFS is slow to exit on SIGTERM and loses nothing to SIGKILL (blob_server).
            grace = blob_server.STOP_GRACE if m.spec.role == "blobs" else self.drain_timeout
            await asyncio.to_thread(procs.stop_gracefully,
                                    [m.proc] if m.proc is not None else [], grace)
        return await self._revive(m)

    async def _revive(self, m: ManagedProcess) -> int:
        """Spawn a stopped, backed-off or failed process now, forgetting its crash streak."""
        m.restart = RestartState(restarts=m.restart.restarts + 1)
        try:
            self._spawn(m)
        except (StartupError, OSError) as exc:
            m.state, m.reason = "failed", str(exc)
            raise ControlError("cannot_start", f"{m.id}: {exc}") from None
        assert m.proc is not None
        pid = m.proc.pid
        self._note(f"{m.id} restarted on request as pid {pid}")
        outcome = await self._await_health(m)
        if not outcome.ok:
            raise ControlError("not_healthy", self._why_not_up(m, outcome))
        return pid

    async def _scale(self, target: int, role: str = "app") -> int:
        """N instances of ``role`` ("app", or "shard": a shard drains by handing its rooms off)."""
        add = self._add_shard if role == "shard" else self._add_app
        apps = sorted((m for m in self.procs.values() if m.spec.role == role),
                      key=lambda m: int(m.id.split("-")[1]))
        if target > len(apps):
            used = {int(m.id.split("-")[1]) for m in apps}
            free = (n for n in range(1, 10_000) if n not in used)
            added = [add(next(free)) for _ in range(target - len(apps))]
            for m in added:
                self._spawn(m)
            self._note(f"scaling up: starting {', '.join(m.id for m in added)}")
            ok = await asyncio.gather(*(self._await_health(m) for m in added))
            bad = [m.id for m, good in zip(added, ok, strict=True) if not good]
            if bad:
                raise ControlError("not_healthy", f"{', '.join(bad)} did not become healthy; "
                                   f"see {self.data_dir / 'logs'}")
        elif target < len(apps):
            gone = apps[target:]
            self._note(f"scaling down: draining {', '.join(m.id for m in gone)}")
            for m in gone:
                m.state = "draining"
            await asyncio.to_thread(procs.stop_gracefully,
                                    [m.proc for m in gone if m.proc is not None],
                                    self.drain_timeout)
            for m in gone:
                del self.procs[m.id]
        # Scaling is also how a user asks for "N working instances": instances
        # the restart policy gave up on are given a fresh start (even at the same N).
        for m in apps[:target]:
            if m.state == "failed":
                await self._revive(m)
        return target

    # -- shutdown ----------------------------------------------------------

    def _stop_everything(self) -> None:
        """Stateless tier first (drain, then SIGKILL), Redis last (AOF flushed).

        A second Ctrl-C must not cut this short and strand children, so both
        signals are ignored from here on (the supervisor exits right after).
        """
        self._stopping = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        running = [m for m in self.procs.values() if m.proc is not None]
        stateless = [m for m in running if m.spec.role != "blobs"]
        blobs = [m.proc for m in running if m.spec.role == "blobs" and m.proc is not None]
        for m in running:
            m.state = "draining"
        stop_stateless(stateless, self.gateway_grace, self.drain_timeout)
        # The blob server is slow to exit on SIGTERM: let it start while Redis stops,
        # then SIGKILL what is left after a short grace (see blob_server).
        started = time.monotonic()
        for p in blobs:
            procs.signal_process(p, signal.SIGTERM)
        if self.cluster is not None:
            self.cluster.stop(grace=2.5)
        procs.stop_gracefully(
            blobs, max(0.0, blob_server.STOP_GRACE - (time.monotonic() - started)))
        for m in running:
            m.state = "stopped"
        if self.procs or self.cluster is not None:  # not after a refusal to start at all
            self._note("stopped; nothing left running")

    def _note(self, message: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
