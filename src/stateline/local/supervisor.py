"""``stateline up``: start the whole architecture on one machine and keep it running.

Order of start: stores (the embedded Redis Cluster unless ``STATELINE_REDIS_URL``
is set; SQLite needs nothing), then N app instances, then the gateway, each
waited on until healthy. While running, the supervisor restarts whatever exits
(with backoff, see :mod:`restart_policy`), answers the control socket
(:mod:`control`) and logs one line per event. On SIGINT/SIGTERM or ``down`` it
stops the stateless tier first (SIGTERM so apps drain, SIGKILL for stragglers)
and Redis last (SIGTERM, so every node flushes its AOF), within 10 seconds.

Everything runs on the main thread: children are spawned there (their
PR_SET_PDEATHSIG is tied to the spawning thread), and an asyncio loop
multiplexes the monitor, health probes and control connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

import redis
from rich.console import Console

from stateline.local import procs
from stateline.local.control import ControlError, ControlServer, Request
from stateline.local.health import wait_healthy
from stateline.local.lock import DataDirLock
from stateline.local.managed import ManagedProcess
from stateline.local.redis_cluster import ClusterError, EmbeddedRedisCluster
from stateline.local.redis_nodes import RedisWatch
from stateline.local.restart_policy import BackoffConfig, GiveUp, RestartPolicy
from stateline.local.specs import Commands, StatelineCommands, app_spec, gateway_spec
from stateline.local.table import guide, process_table
from stateline.settings import Settings
from stateline.stores.redis import connect_sync

TICK = 0.1


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
        self.cluster: EmbeddedRedisCluster | None = None
        self.redis_watch: RedisWatch | None = None
        self.procs: dict[str, ManagedProcess] = {}
        self._lock = DataDirLock(data_dir)
        self._ops = asyncio.Lock()
        self._stop: asyncio.Event | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task[bool]] = set()

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    # -- entry -------------------------------------------------------------

    def run(self) -> int:
        """Run in the foreground until told to stop; returns the exit code."""
        self._lock.acquire()
        previous_int = signal.getsignal(signal.SIGINT)
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            self._start_stores()
            return asyncio.run(self._main())
        except KeyboardInterrupt:
            self._note("interrupted during start-up; stopping")
            return 130
        except StartupError as exc:
            self.console.print(f"[bold red]error:[/] {exc}")
            return 1
        finally:
            self._stop_everything()
            self._lock.release()
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)

    def _start_stores(self) -> None:
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
                raise StartupError(f"cannot reach STATELINE_REDIS_URL {redis_url}: {exc}") \
                    from exc
        self.settings = self.settings.with_(
            redis_url=redis_url, registry_url=redis_url,
            database_url=self.settings.effective_database_url)

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        server = ControlServer(self.data_dir, self._handle)
        try:
            apps = [self._add_app(i) for i in range(1, self.settings.apps + 1)]
            await self._start_all(apps)
            if not self._stop.is_set():
                await self._start_all([self._add_gateway()])
            if self._stop.is_set():
                self._note("interrupted during start-up; stopping")
                return 130
            await server.start()
            self.console.print(process_table(await self._processes(), str(self.data_dir)))
            self.console.print(guide(self._urls(), self.shown_data_dir), soft_wrap=True)
            monitor = asyncio.create_task(self._monitor())
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait([monitor, stop], return_when=asyncio.FIRST_COMPLETED)
            if monitor.done() and monitor.exception() is not None:
                # A bug or an OS error in the supervisor itself: stop everything
                # rather than leave processes running unsupervised.
                exc = monitor.exception()
                self.console.print(f"[bold red]error:[/] the supervisor failed: {exc!r}")
                stop.cancel()
                return 1
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
            self._note("stopping")
            return 0
        finally:
            self._stopping = True
            await server.close()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    # -- processes ---------------------------------------------------------

    def _add_app(self, number: int) -> ManagedProcess:
        ident = f"app-{number}"
        m = ManagedProcess(app_spec(self.commands, self.settings, ident, procs.free_port()))
        self.procs[ident] = m
        return m

    def _add_gateway(self) -> ManagedProcess:
        m = ManagedProcess(gateway_spec(self.commands, self.settings, self.settings.port))
        self.procs["gateway"] = m
        return m

    def _spawn(self, m: ManagedProcess) -> None:
        if not procs.port_is_free(m.spec.port):
            if m.spec.role == "gateway":
                raise StartupError(f"port {m.spec.port} is in use; choose another with --port")
            m.spec = m.spec.on_port(procs.free_port(), self.commands, self.settings)
        m.spawn(self.policy, time.monotonic())

    async def _start_all(self, ms: list[ManagedProcess]) -> None:
        """Spawn and wait until every one is healthy; a start-up failure is fatal."""
        for m in ms:
            self._spawn(m)
        results = await asyncio.gather(*(self._await_health(m) for m in ms))
        failed = [m for m, ok in zip(ms, results, strict=True) if not ok]
        if failed and not (self._stop and self._stop.is_set()):
            raise StartupError("\n".join(self._why_not_up(m) for m in failed))

    def _why_not_up(self, m: ManagedProcess) -> str:
        """One failed start explained: how it ended and the end of its log."""
        if m.proc is not None and m.proc.poll() is not None:
            how = f"{m.id} {m.exit_description()} during start-up"
        else:
            how = f"{m.id} was not healthy within {self.ready_timeout:g}s"
        try:
            tail = m.spec.log_path.read_text(errors="replace").splitlines()[-5:]
        except OSError:
            tail = []
        lines = "".join(f"\n    {line}" for line in tail)
        return f"{how}; last lines of {m.spec.log_path}:{lines}" if tail else how

    async def _await_health(self, m: ManagedProcess) -> bool:
        assert m.proc is not None
        proc = m.proc
        stop_wait = asyncio.ensure_future(self._stop.wait()) if self._stop else None
        health = asyncio.ensure_future(wait_healthy(proc, m.spec.port, self.ready_timeout))
        waiting = [t for t in (health, stop_wait) if t is not None]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for t in waiting:
            t.cancel()
        ok = health.done() and not health.cancelled() and health.result()
        if ok and m.proc is proc and m.state == "starting":
            m.state = "up"
        return bool(ok)

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
            self._note(f"[red]{m.id} could not be restarted: {m.reason}[/]")
        else:
            m.restart_at = decision.at
            self._note(f"{m.id} could not be restarted ({why}); trying again")

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
            if req.cmd == "scale":
                assert req.apps is not None
                return {"ok": True, "apps": await self._scale(req.apps)}
            assert req.id is not None
            return {"ok": True, "pid": self._kill(req.id)}

    def _urls(self) -> dict[str, str]:
        return {"gateway_url": f"http://127.0.0.1:{self.settings.port}",
                "redis_url": self.settings.redis_url or "",
                "database_url": self.settings.database_url or ""}

    async def _processes(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [m.as_status() for m in self.procs.values()]
        if self.redis_watch is not None:
            rows += await self.redis_watch.status()
        return rows

    def _kill(self, ident: str) -> int:
        if self.redis_watch is not None and ident in self.redis_watch.node_ids():
            pid = self.redis_watch.kill(ident)
            self._note(f"{ident} killed on request (pid {pid})")
            return pid
        m = self.procs.get(ident)
        if m is None:
            known = sorted(self.procs) + (self.redis_watch.node_ids() if self.redis_watch else [])
            raise ControlError("unknown_id", f"no process {ident!r}; known: {', '.join(known)}")
        if m.proc is None or not m.alive() or m.state not in ("starting", "up"):
            raise ControlError("not_running", f"{ident} is not running (state {m.state})")
        m.kill_requested = True
        pid = m.proc.pid
        procs.kill_group(m.proc)
        return pid

    async def _scale(self, target: int) -> int:
        apps = sorted((m for m in self.procs.values() if m.spec.role == "app"),
                      key=lambda m: int(m.id.split("-")[1]))
        if target > len(apps):
            used = {int(m.id.split("-")[1]) for m in apps}
            free = (n for n in range(1, 10_000) if n not in used)
            added = [self._add_app(next(free)) for _ in range(target - len(apps))]
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
        stateless = [m for m in self.procs.values() if m.proc is not None]
        for m in stateless:
            m.state = "draining"
        procs.stop_gracefully([m.proc for m in stateless if m.proc is not None],
                              self.drain_timeout)
        for m in stateless:
            m.state = "stopped"
        if self.cluster is not None:
            self.cluster.stop(grace=2.5)
        self._note("stopped; nothing left running")

    def _note(self, message: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
