"""The gateway and its descriptor limit: a connection cap, and no blame on the instances.

Issue 10, item 3: a flood of silent connections took the gateway to its fd
limit; requests were reset, every instance was marked unhealthy and an
unhandled ``OSError: Too many open files`` was logged. Here the gateway runs
with RLIMIT_NOFILE lowered to 200 (set in the child before it starts), so a
few hundred sockets reproduce what took 21,000.

Nothing here asserts on timing: deadlines are hang guards only.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gwtest import TOKEN, Proc, Reader, connect, free_port, pool_toml, wait_port, wait_until
from otheruser import AS_NOBODY, why_not

NOFILE = 200


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


@pytest.fixture()
def limited_gateway(tmp_path: Path) -> Iterator:
    started: list[Proc] = []

    def start(config_toml: str) -> Proc:
        port = free_port()
        cfg = tmp_path / f"gw-{port}.toml"
        cfg.write_text(config_toml)
        log = tmp_path / f"gw-{port}.log"
        env = {**os.environ, "STATELINE_ADMIN_TOKEN": TOKEN}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "stateline", "gateway", "--listen", f"127.0.0.1:{port}",
                 "--config", str(cfg)], stdout=out, stderr=subprocess.STDOUT, env=env,
                preexec_fn=_limit_fds)
        p = Proc(proc, port, log)
        started.append(p)
        wait_port(port)
        return p

    yield start
    for p in started:
        p.stop()


def _open_silent(port: int, n: int) -> list[socket.socket]:
    """``n`` connections that send nothing (connect succeeds at the kernel's backlog)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(10)
        with contextlib.suppress(OSError):
            s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _ask(s: socket.socket, path: str, auth: bool = False) -> tuple[int, dict, bytes]:
    extra = f"Authorization: Bearer {TOKEN}\r\n" if auth else ""
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
    r = Reader(s).response()
    return r.status, r.headers, r.body


def _get(port: int, path: str, auth: bool = False) -> tuple[int, dict, bytes] | None:
    try:
        with connect(port) as s:
            return _ask(s, path, auth)
    except (OSError, ConnectionError, IndexError):
        return None


def _no_fd_errors_logged(log: Path) -> None:
    text = log.read_text(errors="replace")
    assert "Too many open files" not in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


def test_past_the_cap_connections_are_refused_and_idle_ones_go_sooner(
        backends, limited_gateway) -> None:
    b = backends("fd-cap")
    g = limited_gateway(pool_toml(b.address, health_checks=False).replace(
        "idle_timeout = 3.0", "idle_timeout = 600.0"))
    stats = _get(g.port, "/_stateline/stats", auth=True)
    assert stats is not None and stats[0] == 200
    cap = int(stats[2].split(b'"max_client_connections":')[1].split(b",")[0])
    assert 1 <= cap < NOFILE // 2  # derived from the limit, with room for upstreams
    silent = _open_silent(g.port, cap + 40)
    try:
        # those past the cap are answered 503 too_many_connections and closed at once
        refused = 0
        for s in silent[cap:]:
            with contextlib.suppress(OSError):
                data = s.recv(4096)
                refused += data.startswith(b"HTTP/1.1 503") and b"too_many_connections" in data
        assert refused >= 30
        # under pressure the silent ones are closed long before idle_timeout (600 s), so a
        # real request gets through again (the deadline is a hang guard, not the assertion)
        assert wait_until(lambda: (_get(g.port, "/ok") or (0,))[0] == 200, timeout=30)
    finally:
        for s in silent:
            s.close()
    stats = _get(g.port, "/_stateline/stats", auth=True)
    assert stats is not None and b'"connections_refused":0' not in stats[2]
    assert g.proc.poll() is None
    _no_fd_errors_logged(g.log)


def test_out_of_descriptors_is_the_gateways_fault_not_the_instances(
        backends, limited_gateway) -> None:
    """An explicit cap above what the limit allows: upstream connects hit EMFILE."""
    b = backends("fd-blame")
    cfg = pool_toml(b.address, outlier={"interval": 0.2, "consecutive_local_origin_failure": 2,
                                        "unhealthy_threshold": 1})
    g = limited_gateway(cfg.replace("[gateway]", "[gateway]\nmax_client_connections = 5000")
                        .replace("idle_timeout = 3.0", "idle_timeout = 600.0"))
    with connect(g.port, timeout=10) as asker:
        silent = _open_silent(g.port, NOFILE + 50)  # every descriptor the gateway has
        try:
            assert wait_until(lambda: _open_fds(g.proc.pid) >= NOFILE - 2, timeout=30)
            answers = [_ask(asker, "/x") for _ in range(4)]
        finally:
            for s in silent:
                s.close()
    for status, headers, body in answers:
        assert status == 503 and b"gateway_overloaded" in body, (status, body)
        assert headers.get("retry-after") == "1"
    assert wait_until(lambda: (_get(g.port, "/ok") or (0,))[0] == 200, timeout=30)
    pools = _get(g.port, "/_stateline/pools", auth=True)
    assert pools is not None and pools[0] == 200
    import json

    member = json.loads(pools[2])["pools"][0]
    assert member["recent_transitions"] == [], member  # never ejected nor marked unhealthy
    assert g.proc.poll() is None
    _no_fd_errors_logged(g.log)


_FLOOD = """
import socket, sys
socks = []
for _ in range(int(sys.argv[2])):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        pass
    socks.append(s)
print("ready", flush=True)
sys.stdin.read()
"""


def _why_no_other_user() -> str | None:
    """``nobody`` runs the system's python3 (a venv's may sit in a private home)."""
    return why_not() or (None if Path("/usr/bin/python3").exists() else "/usr/bin/python3 missing")


@pytest.mark.skipif(_why_no_other_user() is not None and os.environ.get("CI") != "true",
                    reason=_why_no_other_user() or "")
def test_another_local_user_flooding_connections_cannot_starve_the_gateway(
        backends, limited_gateway) -> None:
    """As `nobody`: a flood of silent connections is refused past the cap, and drained."""
    b = backends("fd-other-user")
    g = limited_gateway(pool_toml(b.address, health_checks=False).replace(
        "idle_timeout = 3.0", "idle_timeout = 600.0"))
    flood = subprocess.Popen(
        [*AS_NOBODY, "/usr/bin/python3", "-c", _FLOOD, str(g.port), str(NOFILE + 100)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        assert flood.stdout is not None and flood.stdout.readline().strip() == "ready"
        # while nobody's sockets are still open, real requests get through again
        assert wait_until(lambda: (_get(g.port, "/ok") or (0,))[0] == 200, timeout=30)
        stats = _get(g.port, "/_stateline/stats", auth=True)
        assert stats is not None and b'"connections_refused":0' not in stats[2]
    finally:
        flood.kill()
        flood.wait(10)
    assert g.proc.poll() is None
    _no_fd_errors_logged(g.log)
