"""``stateline app`` as a real process: one OS process, health, registration, drain on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stateline.registry import info_key, members_key
from stateline.stores.redis import connect_sync

#: Long enough that the checks made while draining fit inside it on a loaded machine: the
#: test asserts what happens during the grace, so the grace must outlast those checks.
GRACE_S = 4.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _only_decoder_helpers(pid: int) -> list[int]:
    """The instance's children, each checked to be the decoders' forkserver or its tracker."""
    children = _children(pid)
    for child in children:
        assert "multiprocessing" in _cmdline(child), _cmdline(child)
    return children


def _gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout  # a hang guard, not the thing measured
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "multiprocessing" in _cmdline(p)
                   for p in pids):
            return True
        time.sleep(0.05)
    return False


def _wait_health(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the app exited during start-up"
        try:
            response = httpx.get(f"{url}/_stateline/health", timeout=1)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("app did not become healthy")


@pytest.fixture
def instance(redis_url: str, tmp_path: Path, stateline_cmd: list[str],
             unique: str) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    port = _free_port()
    pool = f"test-{unique}"
    env = {**os.environ, "STATELINE_REDIS_URL": redis_url, "STATELINE_DATA_DIR": str(tmp_path),
           "STATELINE_REGISTRY_URL": redis_url, "STATELINE_POOL": pool}
    proc = subprocess.Popen(
        [*stateline_cmd, "app", "--host", "127.0.0.1", "--port", str(port),
         "--instance-id", "app-proc", "--drain-grace", str(GRACE_S)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}", pool
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.slow
def test_instance_registers_drains_on_sigterm_and_exits_0(
    instance: tuple[subprocess.Popen[bytes], str, str], redis_url: str,
) -> None:
    proc, url, pool = instance
    health = _wait_health(url, proc)
    assert health.json() == {"status": "ok", "instance": "app-proc"}
    assert health.headers["x-instance-id"] == "app-proc"
    # One serving process; its only children are the image decoders' forkserver and its
    # resource tracker (workers.py), which follow the instance out (see the SIGKILL test).
    _only_decoder_helpers(proc.pid)

    registry = connect_sync(redis_url, decode_responses=True)
    deadline = time.monotonic() + 5
    while registry.zscore(members_key(pool), "app-proc") is None:
        assert time.monotonic() < deadline, "instance never registered"
        time.sleep(0.05)
    info = json.loads(registry.hget(info_key(pool), "app-proc"))
    assert info["state"] == "up" and info["address"] == url.removeprefix("http://")
    assert info["pid"] == proc.pid

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    # Draining: told the registry, health says so, and ordinary requests are still served.
    deadline = started + GRACE_S
    while json.loads(registry.hget(info_key(pool), "app-proc"))["state"] != "draining":
        assert time.monotonic() < deadline, "the registry never heard of the drain"
        time.sleep(0.02)
    draining = httpx.get(f"{url}/_stateline/health")
    assert draining.status_code == 503 and draining.json()["status"] == "draining"
    assert httpx.get(f"{url}/api/calc/add?a=1&b=2").json() == {"result": 3}

    assert proc.wait(GRACE_S + 30) == 0
    elapsed = time.monotonic() - started
    assert elapsed >= GRACE_S  # it finished its grace before leaving (the upper bound
    # is wait()'s hang guard above, not a figure: the machine may be busy)
    assert registry.zscore(members_key(pool), "app-proc") is None


@pytest.mark.slow
def test_sigkill_leaves_nothing_listening(
    instance: tuple[subprocess.Popen[bytes], str, str],
) -> None:
    proc, url, _ = instance
    _wait_health(url, proc)
    helpers = _only_decoder_helpers(proc.pid)
    proc.kill()
    proc.wait(10)
    assert _gone(helpers)  # the decoders' forkserver sees its parent's pipe close and exits
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/_stateline/health", timeout=1)


@pytest.mark.slow
def test_three_instances_start_at_once_on_one_sqlite_file_and_share_it(
    redis_url: str, tmp_path: Path, stateline_cmd: list[str],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    env = {**os.environ, "STATELINE_REDIS_URL": redis_url, "STATELINE_DATA_DIR": str(tmp_path)}
    env.pop("STATELINE_DATABASE_URL", None)  # the default: DATA_DIR/stateline.db
    ports = [_free_port() for _ in range(3)]
    procs = [subprocess.Popen([*stateline_cmd, "app", "--host", "127.0.0.1", "--port", str(p),
                               "--instance-id", f"app-{i}", "--drain-grace", str(GRACE_S)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i, p in enumerate(ports)]
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url, proc in zip(urls, procs, strict=True):
            _wait_health(url, proc)

        def create(i: int) -> int:
            body = {"name": f"n{i}", "email": f"n{i}@example.org"}
            return httpx.post(f"{urls[i % 3]}/api/users", json=body, timeout=30).status_code

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(create, range(30)))
        assert statuses == [201] * 30
        listed = httpx.get(f"{urls[0]}/api/users?limit=100").json()
        assert sorted(u["email"] for u in listed["items"]) == sorted(
            f"n{i}@example.org" for i in range(30))
        rates = httpx.get(f"{urls[2]}/api/currency/convert?amount=1&from=EUR&to=USD")
        assert rates.status_code == 200
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [_reap(proc) for proc in procs]
    assert codes == [0, 0, 0]


def _reap(proc: subprocess.Popen[bytes], timeout: float = 15) -> int | None:
    """The exit status after SIGTERM, or ``None`` if it had to be killed."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def test_a_taken_port_is_a_clear_error_and_exit_1(
    redis_url: str, tmp_path: Path, stateline_cmd: list[str],
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "STATELINE_REDIS_URL": redis_url, "STATELINE_DATA_DIR": str(tmp_path)}
        done = subprocess.run([*stateline_cmd, "app", "--port", str(port)], env=env,
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "cannot serve on" in done.stderr and "in use" in done.stderr


@pytest.mark.slow
def test_a_client_hanging_up_mid_body_leaves_one_log_line_and_no_traceback(
    instance: tuple[subprocess.Popen[bytes], str, str],
) -> None:
    import socket

    proc, url, _ = instance
    _wait_health(url, proc)
    port = int(url.rsplit(":", 1)[1])
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /api/users HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na")
            time.sleep(0.2)
    # Still serving, then a clean exit, and what it logged can be read in full.
    assert httpx.get(f"{url}/api/calc/add?a=1&b=2").json() == {"result": 3}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(GRACE_S + 30) == 0
    assert proc.stderr is not None
    log = proc.stderr.read().decode()
    assert log.count("client disconnected before sending its body: POST /api/users") == 2
    assert "Traceback" not in log and "unhandled error" not in log
    assert "Application callable raised" not in log
