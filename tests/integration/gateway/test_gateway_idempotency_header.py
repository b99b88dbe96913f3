"""The header that makes a POST retryable is the one named in the gateway config."""

from __future__ import annotations

from gwtest import admin, pool_toml, request


def _retries(port: int) -> int:
    return int(admin(port, "GET", "/_stateline/stats").json()["pools"]["apps"]["retries"])


def _post_503(port: int, header: bytes) -> int:
    raw = (b"POST /status/503 HTTP/1.1\r\nHost: t\r\n" + header
           + b"Content-Length: 0\r\n\r\n")
    return request(port, raw).status


def test_a_keyed_post_is_retried_with_the_configured_header_only(backends, gateway) -> None:
    bad, good = backends("bad"), backends("good")
    default = gateway(pool_toml(bad.address, good.address, health_checks=False))
    before = _retries(default.port)
    assert _post_503(default.port, b"Idempotency-Key: k1\r\n") == 503
    assert _retries(default.port) > before  # the default name: retried

    named = pool_toml(bad.address, good.address, health_checks=False).replace(
        "[gateway]\n", '[gateway]\nidempotency_header = "X-Retry-Key"\n', 1)
    g = gateway(named)
    before = _retries(g.port)
    assert _post_503(g.port, b"Idempotency-Key: k2\r\n") == 503
    assert _retries(g.port) == before  # not the configured name: a plain POST, sent once
    assert _post_503(g.port, b"x-retry-key: k3\r\n") == 503
    assert _retries(g.port) > before
