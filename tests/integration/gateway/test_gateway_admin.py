"""Admin endpoints: public health and metrics, token-guarded pools/stats/actions."""

from __future__ import annotations

import pytest
from gwtest import admin, get, pool_toml, upstream_requests


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


def _upstream_counts(port: int) -> dict[str, float]:
    """instance -> stateline_gateway_upstream_duration_seconds_count, summed over workers."""
    text = admin(port, "GET", "/_stateline/metrics", token=None).body.decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("stateline_gateway_upstream_duration_seconds_count{"):
            inst = line.split('instance="', 1)[1].split('"', 1)[0]
            counts[inst] = counts.get(inst, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def test_per_instance_latency_counts_every_proxied_request(two) -> None:
    g, _, _ = two
    text = admin(g.port, "GET", "/_stateline/metrics", token=None).body.decode()
    assert "# TYPE stateline_gateway_upstream_duration_seconds histogram" in text
    before = _upstream_counts(g.port)
    n = 20
    for i in range(n):
        assert get(g.port, f"/lat/{i}").status == 200
    after = _upstream_counts(g.port)
    assert len(after) == 2  # both instances have a histogram
    delta = {inst: after[inst] - before.get(inst, 0.0) for inst in after}
    assert sum(delta.values()) == n
    assert all(d > 0 for d in delta.values())  # round robin: both answered some
    assert sum(after.values()) == upstream_requests(g.port)  # same figure as the counter
