"""A running stateline for an experiment: ``stateline up`` as a subprocess, as a user runs it.

The experiment owns a temporary data dir and a free port, starts
``python -m stateline up`` on them, waits until the gateway answers through
every app instance, talks to the supervisor with its ControlClient (status,
kill, scale), and on exit stops it with SIGINT (Ctrl-C) and checks that no
process it started is left; leftovers are SIGKILLed and reported, never
silently ignored.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from stateline.local.procs import free_port


class SystemFailure(RuntimeError):
    """The system under test did not start or answer; the message says what was seen."""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_by_parent() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def http_get(url: str, timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    """A plain GET (status, headers, body); HTTP errors are answers, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Client:
    """A keep-alive HTTP/1.1 client to the gateway, for experiments that check answers."""

    def __init__(self, port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str,
                body: Any = None) -> tuple[int, dict[str, str], Any]:
        """(status, lower-case headers, parsed JSON or raw bytes); reconnects once if dropped."""
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port,
                                                        timeout=self.timeout)
            try:
                self._conn.request(method, path, body=payload, headers=headers)
                r = self._conn.getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
                continue
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            try:
                return r.status, hdrs, json.loads(raw)
            except ValueError:
                return r.status, hdrs, raw
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class System:
    """``stateline up --data-dir TMP --port FREE --apps N`` for the length of one experiment."""

    def __init__(self, apps: int = 3, log: Any = None, extra_env: dict[str, str] | None = None,
                 up_args: list[str] | None = None) -> None:
        self.apps = apps
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.workdir = Path(tempfile.mkdtemp(prefix="stateline-lab-"))
        self.data_dir = self.workdir / "data"
        self.port = free_port()
        self.extra_env = extra_env or {}
        self.up_args = up_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: set[int] = set()
        self.teardown: dict[str, Any] = {}

    @property
    def redis_password(self) -> str | None:
        """The embedded Redis Cluster's password (the data dir's secret), for direct clients."""
        from stateline.local.secret import read_secret

        return read_secret(self.data_dir)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- life cycle ----------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> System:
        env = {**os.environ, **self.extra_env}
        for name in ("STATELINE_REDIS_URL", "STATELINE_DATABASE_URL", "STATELINE_DATA_DIR"):
            if name not in self.extra_env:
                env.pop(name, None)
        self.log_path = self.workdir / "up.log"
        cmd = [sys.executable, "-m", "stateline", "up", "--data-dir", str(self.data_dir),
               "--port", str(self.port), "--apps", str(self.apps), *self.up_args]
        self.log(f"starting: {' '.join(cmd[2:])}")
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "nothing yet"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemFailure(f"stateline up exited with {self.proc.returncode}: "
                                   f"{self.log_tail()}")
            try:
                status = self.status()
                self._remember(status)
                apps = [p for p in status["processes"] if p["role"] == "app"]
                if len(apps) >= self.apps and self.serving_instances() >= self.apps:
                    return
                last = f"{len(apps)} app(s) in status"
            except (OSError, ValueError, KeyError, SystemFailure) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise SystemFailure(f"stateline up not ready after {timeout:.0f}s ({last}): "
                           f"{self.log_tail()}")

    def serving_instances(self, probes: int = 12) -> int:
        """How many distinct instances answer through the gateway (registry propagated)."""
        seen: set[str] = set()
        for _ in range(probes):
            try:
                status, headers, _ = http_get(f"{self.gateway_url}/api/calc/add?a=1&b=2", 1.0)
            except OSError:
                return 0
            served = {k.lower(): v for k, v in headers.items()}.get("x-served-by")
            if status == 200 and served:
                seen.add(served)
        return len(seen)

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def _remember(self, status: dict[str, Any]) -> None:
        for p in status.get("processes", []):
            if p.get("pid"):
                self.pids.add(int(p["pid"]))

    def stop(self, grace: float = 20.0, keep_data: bool = False) -> dict[str, Any]:
        """Ctrl-C the supervisor; then make sure nothing it started is still running."""
        with contextlib.suppress(Exception):
            self._remember(self.status())
        started = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.log("stateline up did not stop on SIGINT; killing its process group")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in self.pids):
            time.sleep(0.1)
        leftover = sorted(p for p in self.pids if _alive(p))
        for pid in leftover:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.teardown = {
            "exit_code": self.proc.returncode if self.proc else None,
            "stop_s": round(time.monotonic() - started, 2),
            "leftover_processes": len(leftover),
        }
        if not leftover and not keep_data:
            shutil.rmtree(self.workdir, ignore_errors=True)
        elif leftover:
            self.log(f"processes left after SIGINT (killed now): {leftover}; "
                     f"logs kept in {self.workdir}")
        return self.teardown

    def restart(self, timeout: float = 90.0) -> dict[str, Any]:
        """Stop (Ctrl-C) and start again on the same data dir and port; returns the stop."""
        stopped = self.stop(keep_data=True)
        self.pids.clear()
        self.start(timeout)
        return stopped

    def client(self) -> Client:
        return Client(self.port)

    def __enter__(self) -> System:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control socket ----------------------------------------------------------------
    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        from stateline.local.control import ControlClient, ControlError

        try:
            reply = ControlClient(self.data_dir).call(request)
        except ControlError as exc:
            raise SystemFailure(f"control {request!r}: {exc}") from exc
        if not reply.get("ok"):
            raise SystemFailure(f"control {request!r} failed: {json.dumps(reply)}")
        return reply

    def status(self) -> dict[str, Any]:
        return self.call({"cmd": "status"})

    def kill(self, instance: str) -> dict[str, Any]:
        return self.call({"cmd": "kill", "id": instance})

    def scale(self, apps: int) -> dict[str, Any]:
        return self.call({"cmd": "scale", "apps": apps})

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by role (gateway, app, redis) and by this process ("lab").

        Differences of two readings over a load show which tier is the bottleneck.
        Processes that exited in between are missing from the second reading, so
        compare readings taken while the pool is stable.
        """
        children = _children_by_parent()
        out: dict[str, float] = {}
        for p in self.processes():
            role = "redis" if p["role"].startswith("redis") else p["role"]
            if p.get("pid"):
                family = [int(p["pid"])]
                for pid in family:  # grows while walked: worker processes count too
                    family.extend(children.get(pid, ()))
                out[role] = out.get(role, 0.0) + sum(_cpu_of(pid) for pid in family)
        t = os.times()
        out["lab"] = t.user + t.system
        return out

    def processes(self, role_prefix: str = "") -> list[dict[str, Any]]:
        status = self.status()
        self._remember(status)
        return [p for p in status["processes"] if p["role"].startswith(role_prefix)]
