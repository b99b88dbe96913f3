"""Admin endpoints: public health and metrics, token-guarded pools/stats/actions."""

from __future__ import annotations

import pytest
from gwtest import admin, get, pool_toml


@pytest.fixture(scope="module")
def two(backends, gateway):
    a, b = backends("a"), backends("b")
    return gateway(pool_toml(a.address, b.address, health_checks=False)), a, b


def test_health_and_metrics_need_no_token(two) -> None:
    g, _, _ = two
    assert admin(g.port, "GET", "/_stateline/health", token=None).status == 200
    get(g.port, "/warm")
    r = admin(g.port, "GET", "/_stateline/metrics", token=None)
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.body.decode()
    for name in ("stateline_gateway_requests_total", "stateline_gateway_request_duration_seconds",
                 "stateline_gateway_upstream_requests_total", "stateline_gateway_retries_total",
                 "stateline_gateway_ejections_total"):
        assert f"# TYPE {name}" in text
    assert 'code="2xx"' in text


def test_pools_and_stats_need_the_bearer_token(two) -> None:
    g, a, _ = two
    assert admin(g.port, "GET", "/_stateline/pools", token=None).status == 401
    assert admin(g.port, "GET", "/_stateline/pools", token="wrong").status == 401
    r = admin(g.port, "GET", "/_stateline/pools")
    assert r.status == 200
    ids = {m["id"] for m in r.json()["pools"][0]["members"]}
    assert a.address in ids
    assert admin(g.port, "GET", "/_stateline/stats").json()["pools"]["apps"]["requests"] >= 0


def test_drain_and_restore_steer_new_requests(two) -> None:
    g, a, b = two
    base = f"/_stateline/pools/apps/members/{a.address}"
    assert admin(g.port, "POST", base + "/drain").status == 200
    assert {get(g.port, "/x").headers["x-served-by"] for _ in range(6)} == {b.address}
    assert admin(g.port, "POST", base + "/undrain").status == 200
    assert admin(g.port, "POST", base + "/eject").json()["member"]["state"] == "ejected"
    assert {get(g.port, "/x").headers["x-served-by"] for _ in range(6)} == {b.address}
    assert admin(g.port, "POST", base + "/restore").status == 200
    assert {get(g.port, "/x").headers["x-served-by"] for _ in range(6)} == {a.address, b.address}


def test_unknown_members_actions_and_methods_are_4xx(two) -> None:
    g, a, _ = two
    assert admin(g.port, "POST", "/_stateline/pools/apps/members/nope/drain").status == 404
    assert admin(g.port, "POST", f"/_stateline/pools/apps/members/{a.address}/boom").status == 404
    assert admin(g.port, "GET", f"/_stateline/pools/apps/members/{a.address}/drain").status == 405
    assert admin(g.port, "GET", "/_stateline/nothing").status == 404


def test_admin_actions_are_refused_without_a_configured_token(backends, gateway) -> None:
    b = backends()
    g = gateway(pool_toml(b.address, health_checks=False), token=None)
    r = admin(g.port, "POST", f"/_stateline/pools/apps/members/{b.address}/drain", token="x")
    assert r.status == 403 and r.json()["error"]["code"] == "admin_disabled"
    assert admin(g.port, "GET", "/_stateline/health", token=None).status == 200
