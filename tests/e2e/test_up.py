"""`stateline up` as a user runs it: every service through the gateway, then Ctrl-C and up again.

One topology (3 app instances, the embedded Redis Cluster, SQLite) is started
for the module as a subprocess on a temporary data dir and a free port; the
last test stops it with SIGINT, checks nothing is left, starts it again on the
same data dir and reads back what the first run wrote.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from upstack import STATELINE, Stack, wait_for

from stateline.local.procs import free_port, pid_alive, processes_mentioning

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]



@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("e2e") / "data", free_port(), ready_s=90)
    s.start()
    try:
        yield s
    finally:
        s.close(20)


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        yield client


def served_by(response: httpx.Response) -> str:
    return response.headers["x-served-by"]


def read_elsewhere(http: httpx.Client, writer: str, path: str, **kw: Any) -> httpx.Response:
    """GET ``path`` until an instance other than ``writer`` answers (round robin: soon)."""
    for _ in range(6):
        response = http.get(path, **kw)
        if served_by(response) != writer:
            return response
    raise AssertionError(f"every GET {path} was served by {writer}")


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_every_service_answers_through_the_gateway(http: httpx.Client) -> None:
    r = http.get("/api/calc/add", params={"a": 2, "b": 3})
    assert r.status_code == 200 and r.json() == {"result": 5}
    assert http.get("/api/calc/div", params={"a": 1, "b": 0}).status_code == 400
    assert http.get("/api/calc/pow", params={"a": 10, "b": 100000000}).status_code // 100 == 4

    r = http.get("/api/currency/convert", params={"amount": 10, "from": "EUR", "to": "USD"})
    assert r.status_code == 200
    assert {"amount", "from", "to", "rate", "result", "as_of"} <= set(r.json())
    assert http.get("/api/currency/convert",
                    params={"amount": 1, "from": "EUR", "to": "XXX"}).status_code // 100 == 4

    r = http.post("/api/images/resize", params={"width": 20, "height": 10}, content=png(64, 64))
    assert r.status_code == 200
    assert Image.open(io.BytesIO(r.content)).size == (20, 10)
    assert http.post("/api/images/resize", params={"width": 20, "height": 10},
                     content=b"not an image").status_code == 415

    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    r = http.post("/api/users", json={"name": "Ada", "email": email})
    assert r.status_code == 201
    user = r.json()
    assert http.post("/api/users", json={"name": "Ada", "email": email}).status_code == 409
    assert http.get(f"/api/users/{user['id']}").json()["email"] == email
    page = http.get("/api/users", params={"limit": 100}).json()
    assert any(u["id"] == user["id"] for u in page["items"]) and "next" in page

    cart = f"/api/carts/{user['id']}"
    assert http.post(f"{cart}/items", json={"sku": "tea", "qty": 2}).status_code // 100 == 2
    assert http.post(f"{cart}/items", json={"sku": "tea", "qty": 1}).status_code // 100 == 2
    assert http.post(f"{cart}/items", json={"sku": "cup", "qty": 1}).status_code // 100 == 2
    assert http.delete(f"{cart}/items/cup").status_code // 100 == 2
    assert http.get(cart).json()["items"] == [{"sku": "tea", "qty": 3}]

    assert http.get("/api/counter").status_code == 200

    r = http.post("/api/sessions", json={"user": "ada"})
    assert r.status_code == 201 and "session_id" in r.json()
    assert http.get("/api/sessions/me").json() == {"user": "ada"}  # the cookie jar sends it
    assert http.delete("/api/sessions/me").status_code // 100 == 2
    assert http.get("/api/sessions/me").status_code == 401

    r = http.put("/api/players/p1/position", json={"x": 1.5, "y": -2})
    assert r.status_code == 200
    assert http.get("/api/players/p1/position").json()["x"] == 1.5
    assert http.put("/api/players/p1/position",
                    json={"x": "NaN", "y": 0}).status_code // 100 == 4

    r = http.post("/api/demo/local-counter")
    assert r.status_code == 200 and "instance" in r.json()


def test_writes_via_one_instance_are_read_via_another(http: httpx.Client) -> None:
    r = http.post("/api/users", json={"name": "Bo", "email": f"bo-{uuid.uuid4().hex[:8]}@x.org"})
    user = r.json()
    seen = read_elsewhere(http, served_by(r), f"/api/users/{user['id']}")
    assert seen.json()["name"] == "Bo"

    r = http.post(f"/api/carts/{user['id']}/items", json={"sku": "pen", "qty": 4})
    seen = read_elsewhere(http, served_by(r), f"/api/carts/{user['id']}")
    assert seen.json()["items"] == [{"sku": "pen", "qty": 4}]

    r = http.post("/api/sessions", json={"user": "bo"})
    seen = read_elsewhere(http, served_by(r), "/api/sessions/me")
    assert seen.json() == {"user": "bo"}

    r = http.put("/api/players/bo/position", json={"x": 7, "y": 8})
    seen = read_elsewhere(http, served_by(r), "/api/players/bo/position")
    assert (seen.json()["x"], seen.json()["y"]) == (7, 8)


def test_counter_is_consecutive_across_instances_but_the_local_counter_is_not(
    http: httpx.Client,
) -> None:
    incr = [http.post("/api/counter/incr") for _ in range(6)]
    values = [r.json()["value"] for r in incr]
    assert values == list(range(values[0], values[0] + 6))
    assert len({served_by(r) for r in incr}) == 3

    local = [http.post("/api/demo/local-counter").json()["value"] for _ in range(6)]
    assert local != list(range(local[0], local[0] + 6))


def test_status_scale_and_kill_from_the_command_line(stack: Stack, http: httpx.Client) -> None:
    out = stack.cli("status")
    assert out.returncode == 0, out.stderr
    for ident in ("gateway", "app-1", "app-2", "app-3", "redis-1", "redis-6"):
        assert ident in out.stdout

    second = stack.cli("up", "--port", str(free_port()))
    assert second.returncode == 1 and "already running" in second.stderr

    assert stack.cli("scale", "apps=4").returncode == 0
    wait_for(lambda: {served_by(http.get("/api/calc/add", params={"a": 1, "b": 1}))
                      for _ in range(8)} >= {"app-4"}, 15, "the gateway to route to app-4")

    old = {p["id"]: p for p in stack.status()["processes"]}["app-1"]["pid"]
    out = stack.cli("kill", "app-1")
    assert out.returncode == 0 and str(old) in out.stdout
    wait_for(lambda: (p := {p["id"]: p for p in stack.status()["processes"]}["app-1"])
             ["state"] == "up" and p["pid"] not in (None, old), 20, "app-1 to be restarted")
    assert not pid_alive(old)

    assert stack.cli("scale", "apps=3").returncode == 0
    assert "app-4" not in {p["id"] for p in stack.status()["processes"]}
    for _ in range(6):
        assert http.get("/api/calc/add", params={"a": 1, "b": 1}).status_code == 200

    old = {p["id"]: p for p in stack.status()["processes"]}["app-2"]["pid"]
    out = stack.cli("restart", "app-2")
    assert out.returncode == 0, out.stderr
    new = {p["id"]: p for p in stack.status()["processes"]}["app-2"]
    assert new["state"] == "up" and new["pid"] != old and str(new["pid"]) in out.stdout
    assert not pid_alive(old)

    out = stack.cli("scale", "apps=-1")
    assert out.returncode == 2 and "apps must be ≥ 1 (got -1)" in out.stderr


def test_scale_kill_and_restart_speak_json_for_scripts(stack: Stack) -> None:
    def as_json(*args: str) -> tuple[int, dict[str, Any]]:
        out = stack.cli(*args, "--json")
        return out.returncode, json.loads(out.stdout)

    assert as_json("scale", "apps=4") == (0, {"ok": True, "apps": 4})
    old = wait_for(lambda: stack.row("app-4")["state"] == "up" and stack.row("app-4")["pid"],
                   30, "app-4 up")
    code, killed = as_json("kill", "app-4")
    assert code == 0 and killed["ok"] is True and killed["pid"] == old
    wait_for(lambda: stack.row("app-4")["state"] == "up"
             and stack.row("app-4")["pid"] not in (None, old), 30, "app-4 restarted")
    code, restarted = as_json("restart", "app-4")
    assert code == 0 and restarted["pid"] == stack.row("app-4")["pid"]
    assert as_json("scale", "apps=3") == (0, {"ok": True, "apps": 3})
    shards = sum(p["role"] == "shard" for p in stack.status()["processes"])
    assert as_json("scale", f"shards={shards}") == (0, {"ok": True, "shards": shards})
    code, refused = as_json("kill", "app-99")
    assert code == 1 and refused["ok"] is False
    assert refused["error"]["code"] == "unknown_id" and "app-99" in refused["error"]["message"]

    # Off a terminal `up` keeps plain event lines: no live table redrawn, no colour codes.
    log = wait_for(lambda: "app-4 was killed on request" in (t := stack.log.read_text()) and t,
                   30, "the kill as a plain event line in up's output")
    assert "\x1b[" not in log
    assert log.count("stateline on ") == 1  # the table once, at start-up


def test_a_room_lives_on_one_shard_and_comes_back_after_its_shard_is_killed(
        stack: Stack, http: httpx.Client) -> None:
    room = f"e2e-{uuid.uuid4().hex[:8]}"
    assert http.post(f"/api/rooms/{room}/players", json={"player_id": "ada"}).status_code == 201
    moved = http.put(f"/api/rooms/{room}/players/ada/position", json={"x": 7, "y": 8})
    assert moved.status_code == 200, moved.text
    owners = {served_by(http.get(f"/api/rooms/{room}")) for _ in range(4)}
    assert len(owners) == 1 and next(iter(owners)).startswith("shard-")
    owner = owners.pop()
    assert stack.cli("kill", owner).returncode == 0

    def back() -> bool:
        r = http.get(f"/api/rooms/{room}")
        return r.status_code == 200 and r.json()["players"] == [
            {"player_id": "ada", "x": 7.0, "y": 8.0}]

    wait_for(back, 30, f"room {room} to be served again after SIGKILL of {owner}")
    wait_for(lambda: {p["id"]: p for p in stack.status()["processes"]}[owner]["state"] == "up",
             30, f"{owner} to be restarted")


def test_narrow_status_drops_the_log_column_and_names_the_logs_dir(stack: Stack) -> None:
    out = subprocess.run([*STATELINE, "status", "--data-dir", str(stack.data_dir)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout
    assert f"logs     {stack.data_dir.resolve()}/logs/<id>.log" in out.stdout


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "--port must be from 1 to 65535 (got 70000)"),
    (["--port", "0"], "--port must be from 1 to 65535 (got 0)"),
    (["--apps", "0"], "--apps must be ≥ 1 (got 0)"),
])
def test_bad_up_arguments_fail_at_once_in_one_line(
    tmp_path: Path, args: list[str], message: str,
) -> None:
    out = subprocess.run([*STATELINE, "up", "--data-dir", str(tmp_path / "d"), *args],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "d").exists()  # nothing started, nothing written


def test_status_from_another_directory_names_the_absolute_data_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
    out = subprocess.run([*STATELINE, "status"], capture_output=True, text=True,
                         timeout=30, cwd=tmp_path, env=env)
    assert out.returncode == 1
    assert f"nothing is running on {tmp_path.resolve() / '.stateline'};" in out.stderr
    assert "STATELINE_DATA_DIR" in out.stderr


def test_the_redis_secret_is_on_no_command_line_and_shown_nowhere(stack: Stack) -> None:
    from stateline.local.secret import read_secret

    secret = read_secret(stack.data_dir)
    assert secret
    answer = stack.status()
    assert secret not in answer["redis_url"] and ":***@" in answer["redis_url"]
    pids = [p["pid"] for p in answer["processes"] if p.get("pid")]
    assert len(pids) >= 10  # 6 Redis nodes, 3 apps, the gateway
    for pid in pids:
        assert secret.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes(), pid
    assert secret not in stack.cli("status").stdout


def test_status_env_points_a_hand_started_process_at_the_stores(stack: Stack) -> None:
    """docs/verify.md's flow: `eval "$(stateline status --env)"`, then a client of its Redis."""
    from stateline.local.secret import read_secret
    from stateline.stores.redis import connect_sync

    out = stack.cli("status", "--env")
    assert out.returncode == 0, out.stderr
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())
    url = env["STATELINE_REDIS_URL"]
    secret = read_secret(stack.data_dir)
    assert secret and f":{secret}@" in url
    client = connect_sync(url)
    try:
        assert client.ping() is True
    finally:
        client.close()
    assert env["STATELINE_DATABASE_URL"].startswith("sqlite:///")


def test_ctrl_c_leaves_nothing_and_up_again_keeps_all_state(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=10) as http:
        email = f"kept-{uuid.uuid4().hex[:8]}@example.com"
        user = http.post("/api/users", json={"name": "Kept", "email": email}).json()
        http.post(f"/api/carts/{user['id']}/items", json={"sku": "mug", "qty": 2})
        counter = http.post("/api/counter/incr").json()["value"]
        session = http.post("/api/sessions", json={"user": "kept"}).json()["session_id"]
        http.put("/api/players/kept/position", json={"x": 3, "y": 4})
        http.post("/api/rooms/kept/players", json={"player_id": "kept", "x": 5, "y": 6})

    assert stack.proc is not None
    pids = [p["pid"] for p in stack.status()["processes"] if p["pid"]]
    took = stack.stop()
    assert stack.proc.returncode == 0
    assert took < 10, f"Ctrl-C took {took:.1f}s"
    left = [p for p in [*pids, stack.proc.pid] if pid_alive(p)]
    assert left == []
    assert processes_mentioning(str(stack.data_dir)) == []
    assert stack.cli("status").returncode == 1

    stack.start()
    with httpx.Client(base_url=stack.url, timeout=10) as http:
        assert http.get(f"/api/users/{user['id']}").json()["email"] == email
        assert http.get(f"/api/carts/{user['id']}").json()["items"] == [
            {"sku": "mug", "qty": 2}]
        assert http.get("/api/counter").json()["value"] == counter
        http.cookies.set("stateline_session", session)
        assert http.get("/api/sessions/me").json() == {"user": "kept"}
        position = http.get("/api/players/kept/position").json()
        assert (position["x"], position["y"]) == (3, 4)
        room = wait_for(lambda: (r := http.get("/api/rooms/kept")).status_code == 200 and r,
                        30, "the room to be served after up again")
        assert room.json()["players"] == [{"player_id": "kept", "x": 5.0, "y": 6.0}]

    out = stack.cli("down", "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == {"stopped": True}
    assert stack.proc.wait(5) == 0
    assert processes_mentioning(str(stack.data_dir)) == []
