"""The dashboard's HTTP server over real sockets: pages, the stream, and the guarded controls.

The supervisor behind it is a small stand-in that answers ``status`` and
records the controls it was handed (the real one is driven by
tests/e2e/test_dashboard.py); there is no Redis here, so the snapshot's Redis
part is empty.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from stateline.dashboard.server import DashboardServer
from stateline.dashboard.snapshot import Snapshots
from stateline.local.control import ControlError, Request
from stateline.local.procs import free_port

pytestmark = pytest.mark.timeout(60)


class StandIn:
    def __init__(self, data_dir: Path) -> None:
        self.gateway_port = free_port()  # nothing listens: the gateway shows as unreachable
        self.data_dir = data_dir
        self.handled: list[Request] = []

    async def status(self) -> dict[str, Any]:
        return {"ok": True, "processes": [
            {"role": "gateway", "id": "gateway", "state": "up", "pid": 1},
            {"role": "app", "id": "app-1", "state": "up", "pid": 2},
            {"role": "shard", "id": "shard-1", "state": "backoff", "pid": None}],
            "gateway_url": "http://127.0.0.1:1", "database_url": "", "blob_url": ""}

    def redis_clients(self) -> dict[str, Any]:
        return {}

    async def handle(self, req: Request) -> dict[str, Any]:
        self.handled.append(req)
        if req.id == "nope":
            raise ControlError("unknown_id", "no process 'nope'")
        return {"ok": True, "pid": 42}


def serve(tmp_path: Path, body: Callable[[httpx.AsyncClient, DashboardServer, StandIn],
                                         Awaitable[None]]) -> None:
    async def main() -> None:
        source = StandIn(tmp_path)
        server = DashboardServer(free_port(), Snapshots(source), source.handle,
                                 "http://127.0.0.1:1", token="t0ken")
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                await body(client, server, source)
        finally:
            await server.close()
    asyncio.run(main())


def good_headers(server: DashboardServer) -> dict[str, str]:
    return {"X-Stateline-Token": "t0ken", "Content-Type": "application/json",
            "Origin": f"http://127.0.0.1:{server.port}"}


def test_page_and_assets_carry_a_self_only_policy(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, server: DashboardServer, _: StandIn) -> None:
        page = await client.get("/")
        assert page.status_code == 200 and "/static/app.js" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for name in ("app.js", "style.css"):
            r = await client.get(f"/static/{name}")
            assert r.status_code == 200 and r.content
        for bad in ("/static/../server.py", "/static/%2e%2e", "/static/__init__.py", "/nope"):
            r = await client.get(bad)
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    serve(tmp_path, body)


def test_state_lists_every_role_the_supervisor_has(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, server: DashboardServer, _: StandIn) -> None:
        snap = (await client.get("/api/state")).json()
        assert [p["id"] for p in snap["processes"]] == ["gateway", "app-1", "shard-1"]
        assert snap["gateway"] == {"reachable": False}
        assert snap["redis"] == {}
    serve(tmp_path, body)


def test_stream_sends_snapshots(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, server: DashboardServer, _: StandIn) -> None:
        async with client.stream("GET", "/api/events") as r:
            assert r.headers["content-type"] == "text/event-stream"
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    assert json.loads(line[6:])["processes"][1]["id"] == "app-1"
                    break
    serve(tmp_path, body)


def test_a_control_with_token_json_and_own_origin_is_handled(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, server: DashboardServer, src: StandIn) -> None:
        r = await client.post("/api/control", json={"cmd": "kill", "id": "app-1"},
                              headers=good_headers(server))
        assert r.status_code == 200 and r.json()["pid"] == 42
        assert src.handled == [Request("kill", id="app-1")]
        r = await client.post("/api/control", json={"cmd": "kill", "id": "nope"},
                              headers=good_headers(server))
        assert r.status_code == 409 and r.json()["error"]["code"] == "unknown_id"
    serve(tmp_path, body)


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"X-Stateline-Token": ""}, 403, "bad_token"),
    ({"X-Stateline-Token": "wrong"}, 403, "bad_token"),
    ({"Origin": "http://evil.example"}, 403, "cross_origin"),
    ({"Origin": "http://127.0.0.1:1"}, 403, "cross_origin"),
    ({"Content-Type": "text/plain"}, 415, "json_only"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "json_only"),
    ({"Host": "evil.example"}, 421, "wrong_host"),
])
def test_controls_refuse_cross_site_or_tokenless_requests(
        tmp_path: Path, change: dict[str, str], status: int, code: str) -> None:
    async def body(client: httpx.AsyncClient, server: DashboardServer, src: StandIn) -> None:
        headers = {**good_headers(server), **change}
        r = await client.post("/api/control", content=b'{"cmd": "kill", "id": "app-1"}',
                              headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
        assert src.handled == []
    serve(tmp_path, body)


@pytest.mark.parametrize(("path", "payload", "code"), [
    ("/api/control", b"{not json", "bad_json"),
    ("/api/control", b'{"cmd": "down"}', "bad_request"),
    ("/api/control", b'{"cmd": "scale", "apps": 0}', "bad_request"),
    ("/api/control", b"[]", "bad_request"),
    ("/api/load", b'{"rate": 0, "duration": 5}', "bad_rate"),
    ("/api/load", b'{"rate": 10, "duration": 100000}', "bad_duration"),
    ("/api/load", b'{"rate": true, "duration": 5}', "bad_rate"),
    ("/api/load", b'"x"', "bad_request"),
])
def test_bad_control_bodies_are_4xx_json(tmp_path: Path, path: str, payload: bytes,
                                         code: str) -> None:
    async def body(client: httpx.AsyncClient, server: DashboardServer, src: StandIn) -> None:
        r = await client.post(path, content=payload, headers=good_headers(server))
        assert r.status_code == 400 and r.json()["error"]["code"] == code
        assert src.handled == []
    serve(tmp_path, body)


def test_garbage_and_oversized_requests_are_400(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, server: DashboardServer, _: StandIn) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"NONSENSE\r\n\r\n")
        data = await reader.read(-1)
        writer.close()
        assert data.startswith(b"HTTP/1.1 400")
        r = await client.post("/api/control", content=b"x" * 20000, headers=good_headers(server))
        assert r.status_code == 413
        assert (await client.delete("/")).status_code == 405
    serve(tmp_path, body)


@pytest.mark.parametrize(("payload", "code"), [
    (b'{"name": "nope"}', "bad_experiment"),
    (b'{"name": 3}', "bad_experiment"),
    (b'{"name": "routing", "quick": "yes"}', "bad_request"),
    (b"[]", "bad_request"),
])
def test_bad_experiment_requests_are_400(tmp_path: Path, payload: bytes, code: str) -> None:
    async def body(client: httpx.AsyncClient, server: DashboardServer, src: StandIn) -> None:
        r = await client.post("/api/experiment", content=payload, headers=good_headers(server))
        assert r.status_code == 400 and r.json()["error"]["code"] == code
        assert (await client.get("/api/state")).json()["run"] is None
    serve(tmp_path, body)


def test_experiments_are_listed_and_starting_one_needs_the_token(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, server: DashboardServer, src: StandIn) -> None:
        names = (await client.get("/api/experiments")).json()["experiments"]
        assert "failover" in names and "routing" in names
        r = await client.post("/api/experiment", json={"name": "routing"},
                              headers={**good_headers(server), "X-Stateline-Token": "x"})
        assert r.status_code == 403
        r = await client.post("/api/experiment", json={"name": "routing"},
                              headers={**good_headers(server), "Origin": "http://evil.example"})
        assert r.status_code == 403
        r = await client.post("/api/run/stop", json={}, headers=good_headers(server))
        assert r.status_code == 409 and r.json()["error"]["code"] == "no_run"
        assert (await client.get("/api/state")).json()["run"] is None
    serve(tmp_path, body)


def test_a_load_from_the_page_that_cannot_connect_ends_as_a_failed_run(tmp_path: Path) -> None:
    """The stand-in's gateway does not listen: the bench child says so and exits 1."""
    async def body(client: httpx.AsyncClient, server: DashboardServer, src: StandIn) -> None:
        r = await client.post("/api/load", json={"rate": 5, "duration": 2},
                              headers=good_headers(server))
        assert r.status_code == 200 and r.json()["run"] == 1
        for _ in range(600):
            run = (await client.get("/api/state")).json()["run"]
            if not run["running"]:
                break
            await asyncio.sleep(0.1)
        assert run["kind"] == "load" and run["exit"] == 1 and run["points"] == []
        assert "cannot connect" in Path(run["log"]).read_text()
    serve(tmp_path, body)
