"""The supervisor with stand-in app/gateway processes: restarts, scaling, clean stops.

Stand-ins (standin.py) keep these tests about the supervisor; tests/e2e runs
the real app and gateway. Most tests use the session's single Redis to skip
forming a cluster; the Redis-node test runs the embedded cluster.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_helpers import (
    all_up,
    assert_all_gone,
    by_id,
    pid_alive,
    status,
    stop,
    wait_for,
)

from stateline.local.control import ControlClient, ControlError, NotRunning
from stateline.local.procs import free_port

DRIVER = Path(__file__).with_name("run_supervisor.py")


def start_supervisor(data_dir: Path, apps: int, redis_url: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    if redis_url:
        env["STATELINE_REDIS_URL"] = redis_url
    # The supervisor's mechanics with stand-ins: the folder store, not an embedded SeaweedFS
    # (tests/e2e/test_blobs_up.py runs that one).
    env["STATELINE_BLOB_URL"] = f"file://{data_dir.resolve()}/blobs"
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(data_dir), str(free_port()), str(apps)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


@pytest.fixture
def running(tmp_path: Path, redis_url: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    data_dir = tmp_path / "data"
    proc = start_supervisor(data_dir, 2, redis_url)
    try:
        wait_for(lambda: all_up(data_dir), 20, "the supervisor to start 2 apps and a gateway")
        yield proc, data_dir
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(20)
        if proc.stdout:
            proc.stdout.close()


def test_status_lists_gateway_and_apps_with_live_pids(running: tuple) -> None:
    _, data_dir = running
    answer = status(data_dir)
    procs = {p["id"]: p for p in answer["processes"]}
    assert set(procs) == {"gateway", "app-1", "app-2"}
    assert {p["role"] for p in procs.values()} == {"gateway", "app"}
    assert all(pid_alive(p["pid"]) for p in procs.values())
    assert answer["redis_url"].startswith("redis://")
    assert answer["database_url"] == f"sqlite:///{data_dir.resolve() / 'stateline.db'}"
    assert (data_dir / "logs" / "app-1.log").exists()


def test_crashed_app_is_restarted_with_a_new_pid(running: tuple) -> None:
    _, data_dir = running
    old = by_id(data_dir)["app-2"]
    os.kill(old["pid"], signal.SIGKILL)  # not via the supervisor: a crash
    new = wait_for(lambda: (p := all_up(data_dir)) and p["app-2"]["pid"] not in (None, old["pid"])
                   and p["app-2"], 10, "app-2 to come back")
    assert new["restarts"] == 1
    assert new["address"] == old["address"]


def test_kill_through_control_socket_restarts_at_once(running: tuple) -> None:
    _, data_dir = running
    old = by_id(data_dir)["gateway"]
    answer = ControlClient(data_dir).call({"cmd": "kill", "id": "gateway"})
    assert answer["pid"] == old["pid"]
    new = wait_for(lambda: (p := all_up(data_dir)) and p["gateway"]["pid"] not in (None, old["pid"])
                   and p["gateway"], 10, "the gateway to come back")
    assert not pid_alive(old["pid"])
    assert new["restarts"] == 1


def test_scale_up_then_down_drains_the_highest_instances(running: tuple) -> None:
    _, data_dir = running
    client = ControlClient(data_dir)
    assert client.call({"cmd": "scale", "apps": 4}) == {"ok": True, "apps": 4}
    procs = all_up(data_dir)
    assert procs is not None and {"app-3", "app-4"} <= set(procs)
    gone = [procs["app-2"]["pid"], procs["app-3"]["pid"], procs["app-4"]["pid"]]
    assert client.call({"cmd": "scale", "apps": 1})["apps"] == 1
    assert set(by_id(data_dir)) == {"gateway", "app-1"}
    assert not any(pid_alive(p) for p in gone)


def test_bad_control_requests_get_clear_errors(running: tuple) -> None:
    _, data_dir = running
    client = ControlClient(data_dir)
    with pytest.raises(ControlError) as unknown:
        client.call({"cmd": "kill", "id": "app-9"})
    assert unknown.value.code == "unknown_id" and "app-1" in unknown.value.message
    with pytest.raises(ControlError) as bad:
        client.call({"cmd": "scale", "apps": -1})
    assert bad.value.code == "bad_request"


def test_second_up_on_a_live_data_dir_is_refused(running: tuple, redis_url: str) -> None:
    _, data_dir = running
    second = start_supervisor(data_dir, 1, redis_url)
    out, _ = second.communicate(timeout=20)
    assert second.returncode != 0
    assert b"already running" in out
    assert all_up(data_dir)  # the first one is untouched


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_everything_quickly_and_leaves_nothing(running: tuple, sig: int) -> None:
    proc, data_dir = running
    pids = [p["pid"] for p in status(data_dir)["processes"]]
    took = stop(proc, sig)
    assert proc.returncode == 0
    assert took < 10
    assert_all_gone([*pids, proc.pid], data_dir)
    assert not (data_dir / "control.sock").exists()
    with pytest.raises(NotRunning):
        ControlClient(data_dir).call({"cmd": "status"})


def test_a_killed_supervisor_takes_its_children_with_it(running: tuple) -> None:
    proc, data_dir = running
    pids = [p["pid"] for p in status(data_dir)["processes"]]
    proc.kill()  # no chance to clean up: PR_SET_PDEATHSIG must do it
    proc.wait(5)
    assert_all_gone(pids, data_dir)


def _crash_until_failed(data_dir: Path, ident: str) -> dict:
    """Make every start of the stand-ins exit at once, kill ``ident``, wait until given up on."""
    (data_dir / "crash").write_text("")
    ControlClient(data_dir).call({"cmd": "kill", "id": ident})
    failed = wait_for(lambda: by_id(data_dir)[ident]["state"] == "failed"
                      and by_id(data_dir)[ident], 15, f"{ident} to be given up on")
    (data_dir / "crash").unlink()
    return failed


def test_app_that_keeps_crashing_is_given_up_on_then_revived_by_restart_or_scale(
    tmp_path: Path, redis_url: str,
) -> None:
    data_dir = tmp_path / "data"
    proc = start_supervisor(data_dir, 1, redis_url)
    client = ControlClient(data_dir)
    try:
        wait_for(lambda: all_up(data_dir), 20, "start-up")
        failed = _crash_until_failed(data_dir, "app-1")
        assert "crashed 4 times" in failed["reason"]
        time.sleep(0.5)
        assert by_id(data_dir)["app-1"]["state"] == "failed"
        assert by_id(data_dir)["gateway"]["state"] == "up"
        with pytest.raises(ControlError, match="stateline restart app-1"):
            client.call({"cmd": "kill", "id": "app-1"})

        # The cause is fixed (no crash file): `restart` starts it with a clean record.
        pid = client.call({"cmd": "restart", "id": "app-1"})["pid"]
        revived = by_id(data_dir)["app-1"]
        assert (revived["state"], revived["pid"]) == ("up", pid)
        assert "reason" not in revived

        # `scale` to the same number re-arms a failed instance too.
        _crash_until_failed(data_dir, "app-1")
        assert client.call({"cmd": "scale", "apps": 1}) == {"ok": True, "apps": 1}
        assert by_id(data_dir)["app-1"]["state"] == "up"
    finally:
        stop(proc)
        if proc.stdout:
            proc.stdout.close()
    assert_all_gone([proc.pid], data_dir)


@pytest.mark.slow
def test_killed_redis_master_is_restarted_and_rejoins_as_replica(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = start_supervisor(data_dir, 1, None)
    try:
        procs = wait_for(lambda: all_up(data_dir), 40, "start-up with the embedded cluster")
        master = next(p for p in procs.values() if p["role"] == "redis-master")
        ControlClient(data_dir).call({"cmd": "kill", "id": master["id"]})

        def rejoined() -> dict | None:
            p = by_id(data_dir)[master["id"]]
            ok = p["state"] == "up" and p["role"] == "redis-replica" and p["pid"] != master["pid"]
            return p if ok else None

        back = wait_for(rejoined, 30, f"{master['id']} to rejoin as a replica")
        assert back["restarts"] == 1
        roles = [p["role"] for p in by_id(data_dir).values() if p["id"].startswith("redis-")]
        assert roles.count("redis-master") == 3
        pids = [p["pid"] for p in status(data_dir)["processes"]]
    finally:
        stop(proc)
        if proc.stdout:
            proc.stdout.close()
    assert_all_gone([*pids, proc.pid], data_dir)


def test_restart_bounces_a_running_app_gracefully(running: tuple) -> None:
    _, data_dir = running
    old = by_id(data_dir)["app-1"]
    pid = ControlClient(data_dir).call({"cmd": "restart", "id": "app-1"})["pid"]
    assert pid != old["pid"] and not pid_alive(old["pid"])
    assert "SIGTERM at" in (data_dir / "logs" / "app-1.log").read_text()  # drained, not killed
    assert by_id(data_dir)["app-1"]["state"] == "up"


def test_busy_gateway_port_fails_before_the_redis_cluster_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # No STATELINE_REDIS_URL: the embedded cluster would start first if not checked before.
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
        proc = subprocess.run([sys.executable, str(DRIVER), str(data_dir), str(port), "1"],
                              env=env, capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert f"port {port} is in use; choose another with --port" in proc.stdout.decode()
    assert not (data_dir / "topology.json").exists()
    assert not (data_dir / "redis").exists()
    assert_all_gone([], data_dir)


def test_app_stuck_on_one_store_error_fails_up_early_with_the_error_and_its_log_tail(
    tmp_path: Path, redis_url: str,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "unready").write_text("")  # apps answer 503 "stores not reachable yet" forever
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    env["STATELINE_REDIS_URL"] = redis_url
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(DRIVER), str(data_dir), str(free_port()), "2"],
                          env=env, capture_output=True, timeout=60)
    took = time.monotonic() - started
    out = proc.stdout.decode()
    assert proc.returncode == 1
    assert took < 20  # the driver's stuck_after is 1.5 s; the ready timeout is 60 s
    assert ("app-1 kept reporting the same problem for 1.5s: "
            "stores not reachable yet: ConnectionRefusedError(111)") in out
    assert f"last lines of its log, {data_dir.resolve() / 'logs' / 'app-1.log'}:" in out
    shown = [line.strip() for line in out.splitlines() if "start-up line" in line]
    assert shown == [f"stand-in app-1: start-up line {n}" for n in range(3, 13)]  # the last 10
    # app-2 failed for the same reason: said once, app-2 only points at its log.
    assert f"app-2: the same (its log: {data_dir.resolve() / 'logs' / 'app-2.log'})" in out
    assert_all_gone([], data_dir)


def test_shutdown_stops_the_gateway_before_the_apps_are_signalled(
    tmp_path: Path, redis_url: str,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "slow-drain").write_text("")  # the gateway takes 1 s to finish after SIGTERM
    proc = start_supervisor(data_dir, 2, redis_url)
    try:
        wait_for(lambda: all_up(data_dir), 20, "start-up")
    finally:
        took = stop(proc)
        if proc.stdout:
            proc.stdout.close()
    assert took < 10

    def when(ident: str, event: str) -> float:
        text = (data_dir / "logs" / f"{ident}.log").read_text()
        return float(text.split(f"stand-in {ident}: {event} at ")[1].split()[0])

    gateway_gone = when("gateway", "exit")
    assert gateway_gone - when("gateway", "SIGTERM") >= 1.0
    assert all(when(app, "SIGTERM") >= gateway_gone for app in ("app-1", "app-2"))


def test_app_crashing_at_start_up_fails_up_with_its_log_and_cleans_up(
    tmp_path: Path, redis_url: str,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "crash").write_text("")  # every stand-in exits with code 3 at once
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    env["STATELINE_REDIS_URL"] = redis_url
    proc = subprocess.run([sys.executable, str(DRIVER), str(data_dir), str(free_port()), "2"],
                          env=env, capture_output=True, timeout=60)
    out = proc.stdout.decode()
    assert proc.returncode == 1
    assert "app-1 exited with code 3 during start-up" in out
    assert "crash file present" in out  # the end of its log is shown
    assert_all_gone([], data_dir)
