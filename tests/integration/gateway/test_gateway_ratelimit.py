"""Per-route rate limiting through the real limiter in Redis: 429 JSON with Retry-After."""

from __future__ import annotations

import uuid

from gwtest import get


def limited_config(redis_url: str, backend: str, prefix: str, rate_limit: str,
                   extra: str = "") -> str:
    """One pool, a rate-limited route at ``prefix`` (limiter in Redis), and ``extra`` routes."""
    return f"""
[gateway]
redis_url = "{redis_url}"

[pools.apps]
backends = ["http://{backend}"]
health_checks = false

[[routes]]
prefix = "{prefix}"
pool = "apps"
rate_limit = {{ {rate_limit} }}
{extra}"""


def test_a_rate_limited_route_answers_429_past_the_burst_and_others_are_free(
        redis_url, backends, gateway) -> None:
    b = backends()
    prefix = f"/limited-{uuid.uuid4().hex[:6]}"
    g = gateway(limited_config(redis_url, b.address, prefix, "rate_per_s = 0.5, burst = 3",
                               '[[routes]]\nprefix = "/"\npool = "apps"\n'))
    statuses = [get(g.port, f"{prefix}/x").status for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    r = get(g.port, f"{prefix}/x")
    assert r.status == 429 and r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) >= 1
    assert all(get(g.port, "/free").status == 200 for _ in range(6))


def test_a_header_keyed_limit_counts_each_caller_on_its_own(redis_url, backends, gateway) -> None:
    """``key = "header:X-User-Id"``: one bucket per user, and no header falls back to the IP."""
    b = backends()
    prefix = f"/per-user-{uuid.uuid4().hex[:6]}"
    g = gateway(limited_config(redis_url, b.address, prefix,
                               'rate_per_s = 0.5, burst = 2, key = "header:X-User-Id"'))
    alice = [get(g.port, f"{prefix}/x", "X-User-Id: alice\r\n").status for _ in range(3)]
    bob = [get(g.port, f"{prefix}/x", "x-user-id: bob\r\n").status for _ in range(3)]
    anonymous = [get(g.port, f"{prefix}/x").status for _ in range(3)]
    assert alice == [200, 200, 429]
    assert bob == [200, 200, 429]  # alice's requests did not use up bob's bucket
    assert anonymous == [200, 200, 429]  # no header: counted by client address
