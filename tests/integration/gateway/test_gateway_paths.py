"""Spellings of a rate-limited path must not bypass its limit (issue 10, item 4)."""

from __future__ import annotations

import uuid

import pytest
from gwtest import get
from test_gateway_ratelimit import limited_config


@pytest.fixture()
def limited(redis_url, backends, gateway):
    b = backends()
    tag = uuid.uuid4().hex[:6]
    prefix = f"/api/carts{tag}"
    g = gateway(limited_config(redis_url, b.address, prefix, "rate_per_s = 0.01, burst = 1",
                               '[[routes]]\nprefix = "/"\npool = "apps"\n'))
    return g, tag


@pytest.mark.parametrize("spelling", ["/api/%63arts{tag}/x", "/%61pi/carts{tag}/x",
                                      "/api/./carts{tag}/x", "/other/../api/carts{tag}/x",
                                      "/api/carts{tag}/%2e/x", "/api/carts{tag}/%78"])
def test_another_spelling_of_a_limited_path_is_limited_too(limited, spelling: str) -> None:
    g, tag = limited
    assert get(g.port, f"/api/carts{tag}/x").status == 200  # the burst of 1, used up
    r = get(g.port, spelling.format(tag=tag))
    assert r.status == 429, (spelling, r.status, r.body[:200])
    assert r.json()["error"]["code"] == "rate_limited"


def test_an_encoded_slash_is_refused_with_400(limited) -> None:
    g, tag = limited
    r = get(g.port, f"/api/carts{tag}%2Fx")
    assert r.status == 400 and r.json()["error"]["code"] == "encoded_slash"
    r = get(g.port, f"/api%2Fcarts{tag}/x")
    assert r.status == 400 and r.json()["error"]["code"] == "encoded_slash"


def test_the_app_gets_the_normalised_path_and_the_query_as_sent(limited) -> None:
    g, _ = limited
    r = get(g.port, "/x/%7euser/../../%65cho?q=%2F..")
    assert r.status == 200 and r.json()["target"] == "/echo?q=%2F.."
