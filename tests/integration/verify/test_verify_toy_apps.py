"""`stateline verify` against two tiny apps: one keeps state in its process, one in Redis.

Real processes throughout: the verifier is run as a user runs it (the CLI in a
subprocess), it spawns the apps under uvicorn, and the Redis app talks to the
session's real redis-server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from stateline.local.procs import free_port, wait_port

APPS = Path(__file__).parent / "apps"
PY = sys.executable
LOCAL_APP = f"{PY} {APPS / 'local_state_app.py'} {{port}}"

SESSION_SCRIPT = """
volatile: [pid, at, session_id]
relative: [value]
requests:
  - {method: GET, path: "/hello?name={run}"}
  - method: POST
    path: /login
    json: {user: "ada-{run}"}
    capture: {sid: "cookie:sid"}
    expect_status: 201
  - {method: GET, path: /me}
  - {method: POST, path: /counter}
  - {method: POST, path: /counter}
  - {method: GET, path: /text}
"""


def redis_app(redis_url: str) -> str:
    return f"{PY} {APPS / 'redis_state_app.py'} {{port}} {redis_url} t-{uuid.uuid4().hex[:8]}"


def write(tmp_path: Path, text: str, name: str = "script.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def verify(stateline_cmd: list[str], *args: str | Path,
           timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*stateline_cmd, "verify", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def verify_json(stateline_cmd: list[str], *args: str | Path) -> tuple[int, dict]:
    done = verify(stateline_cmd, *args, "--format", "json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_state_in_the_process_is_found_at_the_first_request_that_depends_on_it(
    stateline_cmd: list[str], tmp_path: Path
) -> None:
    code, doc = verify_json(stateline_cmd, write(tmp_path, SESSION_SCRIPT), "--spawn", LOCAL_APP)
    assert code == 1
    assert [m["status"] for m in doc["modes"]] == ["reference", "different", "different"]
    first = doc["first_difference"]
    # The login went to replica 2; replica 1 has never heard of the session.
    assert (first["mode"], first["request"], first["path"]) == ("round_robin", 3, "/me")
    assert (first["reference"]["status"], first["other"]["status"]) == (200, 401)
    assert first["reference"]["replica"].startswith("replica 1")
    assert first["other"]["replica"].startswith("replica 1")
    restart = doc["modes"][2]["difference"]
    assert restart["request"] == 3 and restart["other"]["status"] == 401


def test_the_same_app_with_its_state_in_redis_shows_no_difference(
    stateline_cmd: list[str], tmp_path: Path, redis_url: str
) -> None:
    done = verify(stateline_cmd, write(tmp_path, SESSION_SCRIPT), "--spawn",
                  redis_app(redis_url))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(b) round robin across replicas: no difference (6 requests)" in done.stdout
    assert "restarting the replica that answered: no difference (6 requests)" in done.stdout


def test_a_shared_counter_differs_between_replays_unless_declared_relative(
    stateline_cmd: list[str], tmp_path: Path, redis_url: str
) -> None:
    script = write(tmp_path, "- {method: POST, path: /counter}\n- {method: POST, path: /counter}\n")
    args = (script, "--spawn", redis_app(redis_url), "--volatile", "pid", "--modes", "a,b")
    code, doc = verify_json(stateline_cmd, *args)
    assert code == 1
    assert doc["first_difference"]["request"] == 1
    assert doc["first_difference"]["fields"] == [{"path": "value", "reference": 1, "other": 3}]
    code, doc = verify_json(stateline_cmd, *args, "--relative", "value")
    assert code == 0
    assert doc["modes"][2] == {"mode": "restart", "status": "skipped", "requests": 0,
                               "reason": "not requested (--modes)", "difference": None}


def test_volatile_fields_from_the_command_line_are_ignored(
    stateline_cmd: list[str], tmp_path: Path
) -> None:
    script = write(tmp_path, "- {path: /text}\n- {path: '/hello?name=x'}\n"
                             "- {path: '/hello?name=y'}\n")
    base = (script, "--spawn", LOCAL_APP, "--modes", "a,b")
    code, doc = verify_json(stateline_cmd, *base)
    assert code == 1
    # Request 2 reaches replica 2: a clock and a pid that differ.
    assert doc["first_difference"]["request"] == 2
    assert {f["path"] for f in doc["first_difference"]["fields"]} == {"at", "pid"}
    code, doc = verify_json(stateline_cmd, *base, "--volatile", "at")
    assert (code, doc["first_difference"]["request"]) == (1, 2)
    assert [f["path"] for f in doc["first_difference"]["fields"]] == ["pid"]
    code, doc = verify_json(stateline_cmd, *base, "--volatile", "at", "--volatile", "pid")
    assert code == 0


@pytest.fixture
def two_local_replicas() -> list[str]:
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen([PY, str(APPS / "local_state_app.py"), str(port)]))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_port(int(url.rsplit(":", 1)[1]))
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def test_replicas_given_as_urls_are_compared_and_the_restart_mode_is_skipped(
    stateline_cmd: list[str], tmp_path: Path, two_local_replicas: list[str]
) -> None:
    a, b = two_local_replicas
    code, doc = verify_json(stateline_cmd, write(tmp_path, SESSION_SCRIPT),
                            "--replica", a, "--replica", b)
    assert code == 1
    assert doc["first_difference"]["request"] == 3
    restart = doc["modes"][2]
    assert restart["status"] == "skipped"
    assert "needs --spawn" in restart["reason"]
    assert doc["replicas"] == [f"replica 1 ({a})", f"replica 2 ({b})"]


def test_a_replica_that_dies_at_startup_is_reported_with_its_stderr(
    stateline_cmd: list[str], tmp_path: Path
) -> None:
    dying = f"{PY} -c \"import sys; sys.exit('boom: no config for port {{port}}')\""
    done = verify(stateline_cmd, write(tmp_path, SESSION_SCRIPT), "--spawn", dying)
    assert done.returncode == 2
    assert "exited with status 1 before accepting connections" in done.stderr
    assert "boom: no config for port" in done.stderr


def test_a_replica_that_never_listens_times_out_and_is_stopped(
    stateline_cmd: list[str], tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    silent = f"echo $$ > {pids}/{{replica}}; exec sleep 60 # {{port}}"
    started = time.monotonic()
    done = verify(stateline_cmd, write(tmp_path, SESSION_SCRIPT), "--spawn", silent,
                  "--startup-timeout", "1")
    assert done.returncode == 2
    assert "did not accept connections within 1 s" in done.stderr
    assert time.monotonic() - started < 30
    assert_gone(pids)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--replica", "http://127.0.0.1:1"],
        ["--spawn", "python app.py"],
        ["--spawn", "x {port}", "--replica", "http://127.0.0.1:1"],
        ["--replica", "127.0.0.1:1", "--replica", "127.0.0.1:2"],
        ["--spawn", "x {port}", "--modes", "sideways"],
    ],
)
def test_usage_errors_exit_with_status_2(
    stateline_cmd: list[str], tmp_path: Path, args: list[str]
) -> None:
    done = verify(stateline_cmd, write(tmp_path, SESSION_SCRIPT), *args)
    assert done.returncode == 2
    assert "stateline verify:" in done.stderr


def test_a_script_error_is_a_usage_error_naming_the_request(
    stateline_cmd: list[str], tmp_path: Path
) -> None:
    script = write(tmp_path, "- {path: /a}\n- {path: '/users/{uid}'}\n")
    done = verify(stateline_cmd, script, "--spawn", LOCAL_APP)
    assert done.returncode == 2
    assert "#2 GET /users/{uid}: uses {uid} before any request captures it" in done.stderr


def assert_gone(pid_dir: Path) -> None:
    pids = [int(p.read_text()) for p in pid_dir.iterdir()]
    assert pids
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"replicas still running: {alive}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for init to reap it has stopped running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_verify_stops_every_replica(
    stateline_cmd: list[str], tmp_path: Path, sig: signal.Signals
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    script = write(tmp_path, "- {path: '/slow?s=60'}\n")
    spawn = f"echo $$ > {pids}/{{replica}}; exec {LOCAL_APP}"
    proc = subprocess.Popen([*stateline_cmd, "verify", str(script), "--spawn", spawn,
                             "--timeout", "120"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # both replicas up, the slow request in flight
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (130, 128 + sig)
    assert "Traceback" not in err
    assert_gone(pids)


def test_a_reference_run_that_breaks_its_own_expectations_cannot_verify(
    stateline_cmd: list[str], tmp_path: Path
) -> None:
    script = write(tmp_path, "- {path: /me, expect_status: 200}\n")
    done = verify(stateline_cmd, script, "--spawn", LOCAL_APP, "--format", "json")
    assert done.returncode == 2
    doc = json.loads(done.stdout)
    assert doc["result"] == "error"
    assert doc["modes"] == [{
        "mode": "single", "status": "failed", "requests": 0, "difference": None,
        "reason": doc["modes"][0]["reason"],
    }]
    assert "#1 GET /me" in doc["modes"][0]["reason"]
    assert "expected status 200, got 401" in doc["modes"][0]["reason"]
