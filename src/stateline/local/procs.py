"""Starting and stopping child processes so that none outlives its parent.

Every process stateline starts on one machine goes through :func:`spawn`:

- it gets ``PR_SET_PDEATHSIG`` (Linux), so if the supervisor (or a test session)
  dies without cleaning up -- SIGKILL, a crash -- the kernel kills the child too;
- it runs in its own session and process group, so a Ctrl-C in the terminal
  reaches only the supervisor, which then stops children in the right order
  (apps drain first, Redis last), and so that :func:`kill_group` also reaches
  any worker processes a child forked.

``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child exits, not
the process: spawn only from a long-lived thread (the main thread).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _death_signal_preexec(parent_pid: int, umask: int | None = None) -> Callable[[], None]:
    def preexec() -> None:
        if umask is not None:
            os.umask(umask)
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            # The parent may have died between fork and prctl: then nobody would
            # ever send the signal, so give up now instead of running orphaned.
            if os.getppid() != parent_pid:
                os._exit(1)

    return preexec


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    cwd: Path | None = None,
    umask: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` tied to this process's life, output appended to ``log_path``.

    The log is created 0600 (it may quote requests, user data): only its owner
    reads it. ``umask``, if given, is the child's (0o077: whatever it creates
    is private to the owner).
    """
    if log_path is not None:
        log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        out: int | object = os.open(
            log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    else:
        out = subprocess.DEVNULL
    try:
        return subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_death_signal_preexec(os.getpid(), umask),
        )
    finally:
        if isinstance(out, int):
            os.close(out)


def signal_process(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig`` to the child itself (not its group); a no-op once it has exited."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group: the child and anything it forked."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    signal_process(proc, signal.SIGKILL)


def wait_all(procs: Sequence[subprocess.Popen[bytes]], timeout: float) -> bool:
    """Wait until every process has exited or ``timeout`` passed; True if all exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.poll() is not None for p in procs):
            return True
        time.sleep(0.02)
    return all(p.poll() is not None for p in procs)


def stop_gracefully(
    procs: Sequence[subprocess.Popen[bytes]], grace: float, sig: int = signal.SIGTERM
) -> None:
    """Send ``sig`` to each, wait up to ``grace`` seconds, SIGKILL the groups of stragglers.

    Groups are killed even for children that exited cleanly, so that a worker a
    child forked and forgot cannot linger.
    """
    for p in procs:
        signal_process(p, sig)
    wait_all(procs, grace)
    for p in procs:
        kill_group(p)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(2)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` and we may bind it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def bind_problem(port: int, host: str = "127.0.0.1") -> str | None:
    """Why a server could not listen on ``host:port`` now, or ``None`` if it could.

    The supervisor asks before it starts anything, so that a taken gateway port
    is reported in a second instead of after the Redis Cluster has started.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} is in use"
            if exc.errno == errno.EACCES:
                return f"port {port} needs privileges to listen on (ports below 1024 usually do)"
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


#: Listening ports for app instances, gateways and test servers are drawn from
#: here: below the embedded Redis Cluster's range (12000..22767, buses up to
#: 32767) and below the kernel's ephemeral range (usually 32768..60999). A port
#: the kernel hands out with bind(0) is an *ephemeral* one, which the very next
#: outgoing connection (Redis nodes meeting each other, say) may take before our
#: server binds it; a port from this range is never handed out that way.
LISTEN_PORT_RANGE = (2000, 11999)


def free_port(host: str = "127.0.0.1", rng: random.Random | None = None) -> int:
    """A TCP port outside the ephemeral range that nothing listens on now.

    Falls back to a kernel-chosen port if the whole range looks taken.
    """
    rng = rng or random.Random()
    low, high = LISTEN_PORT_RANGE
    for _ in range(200):
        port = rng.randint(low, high)
        if port_is_free(port, host):
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts connections on ``host:port``; TimeoutError if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port, host):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """True if something accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie (a zombie has exited, only unreaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes (not this one) whose command line or environment contains ``text``.

    How to check that nothing is left of a stateline: every process it starts
    names its data dir on the command line (Redis: ``--dir``) or in its
    environment (apps, gateway: ``STATELINE_DATA_DIR``), and children they fork
    inherit that environment.
    """
    needle = text.encode()
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if (needle in cmdline or needle in environ) and pid_alive(int(entry.name)):
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode(
                errors="replace").strip()))
    return found
