"""Build, use and remove a :mod:`stateline.lab.hosts` plan with real network namespaces.

Why every exit path matters: a namespace outlives the process that made it
(the kernel keeps it while a process inside it lives or ``/run/netns`` pins
it), so a killed run would leave namespaces, veths and servers behind for
ever. Three layers make that impossible to miss:

1. :meth:`Hosts.close` kills every process inside the run's namespaces
   (``ip netns pids``), then deletes the namespaces and the controller's link;
   it runs from ``with``, from ``atexit`` and from SIGTERM/SIGHUP handlers
   (SIGINT raises ``KeyboardInterrupt``, which reaches ``with``/atexit).
2. :func:`remove_stale` runs at every start: namespaces and links named after a
   pid that no longer exists are a killed run's, and are removed (their
   processes first). A live run's are left alone.
3. :func:`leftovers` lists what of ours exists, for a test to assert it is empty.

It needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): :func:`unavailable` says so
in words instead of an ``ip`` error.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from types import FrameType

from stateline.lab import hosts as plan_mod
from stateline.lab.hosts import HostPlan, TopologyPlan

_serials = itertools.count()


class HostsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (not root, no ``ip``)."""


def unavailable() -> str | None:
    """Why this machine cannot run a host topology, or ``None`` if it can."""
    if os.geteuid() != 0:
        return ("the host topology needs root (it creates network namespaces, veths and a "
                "bridge); run as root or under sudo")
    if shutil.which("ip") is None:
        return "the host topology needs the `ip` command (Debian package iproute2)"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """One ``ip`` command; a failure raises with its stderr in the message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30,
                          check=False)
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, ["ip", *args], done.stdout,
                                            done.stderr)
    return done


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise HostsUnavailable(f"{' '.join(cmd)}: {done.stderr.strip()}")


def owner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def our_namespaces() -> list[str]:
    names = plan_mod.parse_netns_list(ip("netns", "list", check=False).stdout)
    return [n for n in names if plan_mod.owner_of_netns(n) is not None]


def our_links() -> list[str]:
    names = plan_mod.parse_link_names(ip("-o", "link", "show", check=False).stdout)
    return [n for n in names if plan_mod.owner_of_link(n) is not None]


def pids_in(netns: str) -> list[int]:
    out = ip("netns", "pids", netns, check=False).stdout
    return [int(w) for w in out.split() if w.isdigit()]


def kill_inside(namespaces: Iterable[str], grace: float = 3.0) -> None:
    """SIGTERM every process in ``namespaces``, then SIGKILL what is left after ``grace``."""
    namespaces = list(namespaces)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        pids = [p for ns in namespaces for p in pids_in(ns)]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(pids_in(ns) for ns in namespaces):
            _reap()
            time.sleep(0.05)


def _reap() -> None:
    """Collect our own exited children so that they stop counting as processes in a namespace."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def remove_namespaces(namespaces: Iterable[str], links: Iterable[str] = ()) -> None:
    namespaces = list(namespaces)
    kill_inside(namespaces)
    for link in links:
        ip("link", "del", link, check=False)
    for ns in namespaces:
        ip("netns", "del", ns, check=False)


def remove_stale() -> list[str]:
    """Remove what killed earlier runs left (their pid is gone); returns what was removed."""
    namespaces = plan_mod.stale(our_namespaces(), plan_mod.owner_of_netns, owner_alive)
    links = plan_mod.stale(our_links(), plan_mod.owner_of_link, owner_alive)
    remove_namespaces(namespaces, links)
    return namespaces + links


def leftovers(run: str | None = None) -> dict[str, list[str]]:
    """Our namespaces, root links and processes inside them (of one run tag, or all)."""
    def mine(name: str) -> bool:
        return run is None or plan_mod.run_of(name) == run
    namespaces = [n for n in our_namespaces() if mine(n)]
    links = [n for n in our_links() if mine(n)]
    procs = [f"{ns}:{p}" for ns in namespaces for p in pids_in(ns)]
    return {"namespaces": namespaces, "links": links, "processes": procs}


class Hosts:
    """A live topology: ``with Hosts(["gw", "app1"]) as h: h.spawn("gw", [...])``."""

    def __init__(self, names: Iterable[str], subnet: str | None = None) -> None:
        why = unavailable()
        if why:
            raise HostsUnavailable(why)
        self.removed_stale = remove_stale()
        wanted = plan_mod.plan(names, subnet).subnet
        in_use = plan_mod.subnets_in_use(ip("-o", "-4", "addr", "show", check=False).stdout)
        self.plan: TopologyPlan = plan_mod.plan(names, plan_mod.free_subnet(wanted, in_use),
                                                serial=next(_serials))
        self._closed = False
        self._previous: dict[int, object] = {}
        self._procs: list[subprocess.Popen[bytes]] = []

    # -- life cycle --------------------------------------------------------
    def create(self) -> Hosts:
        atexit.register(self.close)
        self._install_signal_handlers()
        try:
            for cmd in plan_mod.setup_commands(self.plan):
                _run(cmd)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Kill everything inside, delete the namespaces and the link. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for p in self._procs:
            with contextlib.suppress(OSError):
                if p.poll() is None:
                    p.terminate()
        remove_namespaces(self.plan.namespaces, [self.plan.controller_link])
        for p in self._procs:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                p.wait(5)
        self._restore_signal_handlers()
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    def __enter__(self) -> Hosts:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _install_signal_handlers(self) -> None:
        import threading

        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may; atexit and with still clean up
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        for sig, old in self._previous.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(sig, old)  # type: ignore[arg-type]
        self._previous.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous.get(signum)
        self.close()
        if callable(previous):
            previous(signum, frame)
        raise SystemExit(128 + signum)

    # -- using it ----------------------------------------------------------
    def __getitem__(self, name: str) -> HostPlan:
        return self.plan.host(name)

    def address(self, name: str) -> str:
        return self.plan.host(name).address

    def argv(self, name: str, command: list[str]) -> list[str]:
        return self.plan.host(name).argv(command)

    def run(self, name: str, command: list[str], timeout: float = 30.0,
            ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` inside host ``name`` to its end (output captured)."""
        return subprocess.run(self.argv(name, command), capture_output=True, text=True,
                              timeout=timeout, check=False)

    def spawn(self, name: str, command: list[str], log_path: os.PathLike[str] | str,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``command`` inside host ``name`` in the background; killed by :meth:`close`."""
        from stateline.local import procs

        proc = procs.spawn(self.argv(name, command), log_path=log_path, env=env)
        self._procs.append(proc)
        return proc
