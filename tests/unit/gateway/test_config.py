"""Configuration: the TOML reference and the command-line shorthand give one shape."""

from __future__ import annotations

import pytest

from stateline.gateway.config import ConfigError, from_flags, load, parse_backend, parse_listen
from stateline.gateway.routes import Route, Router

FULL = """
[gateway]
listen = "127.0.0.1:9000"
workers = 2
redis_url = "redis://127.0.0.1:6379/0"
header_read_timeout = 5
idle_timeout = 30.5

[pools.apps]
registry = "apps"
policy = "least_outstanding"
retries = 1
response_timeout = 3

[pools.carts]
backends = ["http://127.0.0.1:9101", "127.0.0.1:9102"]
policy = "rendezvous"
key = "header:X-User-Id"
weights = { "http://127.0.0.1:9102" = 3 }
max_body_bytes = 1024
health_path = "/healthz"

[pools.carts.outlier]
consecutive_5xx = 3
base_ejection_time = 10

[[routes]]
prefix = "/carts"
pool = "carts"
rate_limit = { rate_per_s = 50, burst = 100, key = "header:X-User-Id" }

[[routes]]
prefix = "/"
pool = "apps"
"""


def test_the_full_sample_parses_into_pools_and_routes() -> None:
    cfg = load(FULL)
    assert cfg.listen == ("127.0.0.1", 9000) and cfg.workers == 2
    assert cfg.header_read_timeout == 5.0 and cfg.idle_timeout == 30.5
    carts = cfg.pools["carts"]
    assert carts.backends == ("127.0.0.1:9101", "127.0.0.1:9102")
    assert carts.policy == "rendezvous" and carts.key == "header:X-User-Id"
    assert carts.weights == {"127.0.0.1:9102": 3}
    assert carts.outlier.consecutive_5xx == 3 and carts.outlier.base_ejection_time == 10.0
    assert carts.health_path == "/healthz" and carts.max_body_bytes == 1024
    apps = cfg.pools["apps"]
    assert apps.registry == "apps" and apps.retries == 1 and apps.response_timeout == 3.0
    assert [(r.prefix, r.pool) for r in cfg.routes] == [("/carts", "carts"), ("/", "apps")]
    limit = cfg.routes[0].rate_limit
    assert limit is not None and (limit.rate_per_s, limit.burst) == (50.0, 100)


def test_the_docs_sample_config_parses() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "gateway.md").read_text()
    sample = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg = load(sample)
    assert cfg.pools and cfg.routes


def test_a_single_pool_needs_no_routes() -> None:
    cfg = load('[pools.web]\nbackends = ["http://127.0.0.1:1"]\n')
    assert [(r.prefix, r.pool) for r in cfg.routes] == [("/", "web")]


@pytest.mark.parametrize(("text", "needle"), [
    ('[pools.a]\nbackends = ["http://h:1"]\nbogus = 1\n', "bogus"),
    ('[pools.a]\nbackends = ["http://h:1"]\npolicy = "random"\n', "policy"),
    ('[pools.a]\nbackends = ["http://h:1"]\nkey = "body:x"\n', "key"),
    ('[pools.a]\nbackends = ["http://h:1"]\nretries = -1\n', "retries"),
    ('[pools.a]\nbackends = ["http://h:1"]\nretries = "2"\n', "retries"),
    ('[pools.a]\n', "backends"),
    ('[pools.a]\nbackends = ["ftp://h:1"]\n', "ftp"),
    ('[pools.a]\nbackends = ["http://h"]\n', "HOST:PORT"),
    ('[pools.a]\nregistry = "a"\n', "redis_url"),
    ('[pools.a]\nbackends = ["http://h:1"]\n[[routes]]\nprefix = "/x"\npool = "b"\n', "pool"),
    ('[pools.a]\nbackends = ["http://h:1"]\n[[routes]]\nprefix = "/_stateline/x"\npool = "a"\n',
     "_stateline"),
    ('[pools.a]\nbackends = ["http://h:1"]\n[pools.a.outlier]\nmax_ejection_percent = 200\n',
     "outlier"),
    ('[pools.a]\nbackends = ["http://h:1"]\n[pools.b]\nbackends = ["http://h:2"]\n', "routes"),
    ('[gateway]\ntrusted_proxies = ["10.0.0.0/33"]\n[pools.a]\nbackends = ["http://h:1"]\n',
     "trusted_proxies"),
    ('[gateway]\nmax_headers = 0\n[pools.a]\nbackends = ["http://h:1"]\n', "max_headers"),
    ('[pools.a]\nbackends = ["http://h:1"]\n[pools.a.outlier]\npanic_threshold = 101\n',
     "outlier"),
    ("not toml [", "config"),
    ("", "pools"),
])
def test_bad_configs_are_refused_naming_the_key(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load(text)


def test_flags_give_one_catch_all_pool() -> None:
    cfg = from_flags(listen="127.0.0.1:8081", backends=["http://127.0.0.1:9001", "127.0.0.1:9002"],
                     registry_url=None, pool="apps")
    assert cfg.listen == ("127.0.0.1", 8081)
    assert cfg.pools["apps"].backends == ("127.0.0.1:9001", "127.0.0.1:9002")
    assert [(r.prefix, r.pool) for r in cfg.routes] == [("/", "apps")]


def test_registry_flags_make_a_registry_pool() -> None:
    cfg = from_flags(listen="127.0.0.1:8081", backends=[], registry_url="redis://h:1/0",
                     pool="apps")
    assert cfg.pools["apps"].registry == "apps" and cfg.redis_url == "redis://h:1/0"


def test_flags_without_backends_or_registry_are_refused() -> None:
    with pytest.raises(ConfigError):
        from_flags(listen="127.0.0.1:1", backends=[], registry_url=None, pool="apps")


@pytest.mark.parametrize("value", ["8080", "h:", "h:99999", "h:x"])
def test_bad_listen_addresses_are_refused(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_listen(value)


def test_backend_urls_become_host_port_ids() -> None:
    assert parse_backend("http://127.0.0.1:80/") == "127.0.0.1:80"
    with pytest.raises(ConfigError):
        parse_backend("http://127.0.0.1:80/prefix")


def test_router_takes_the_longest_prefix_at_a_segment_boundary() -> None:
    r = Router([Route(b"/", "root"), Route(b"/api", "api"), Route(b"/api/v2/", "v2")])
    assert r.match(b"/api").pool == "api"
    assert r.match(b"/api/x").pool == "api"
    assert r.match(b"/apix").pool == "root"
    assert r.match(b"/api/v2/x").pool == "v2"
    assert Router([Route(b"/api", "api")]).match(b"/other") is None


def test_trusted_proxies_header_limit_and_panic_threshold_are_read() -> None:
    cfg = load('[gateway]\ntrusted_proxies = ["10.1.2.3", "192.168.0.0/16"]\nmax_headers = 50\n'
               '[pools.a]\nbackends = ["http://h:1"]\n[pools.a.outlier]\npanic_threshold = 30\n')
    assert cfg.trusted_proxies == ("10.1.2.3/32", "192.168.0.0/16")
    assert cfg.max_headers == 50
    assert cfg.pools["a"].outlier.panic_threshold == 30.0


def test_by_default_no_proxy_is_trusted_and_100_headers_are_allowed() -> None:
    cfg = load('[pools.a]\nbackends = ["http://h:1"]\n')
    assert cfg.trusted_proxies == () and cfg.max_headers == 96
    assert cfg.pools["a"].outlier.panic_threshold == 50.0


def test_tunnel_idle_timeout_is_a_gateway_key_with_an_hour_by_default() -> None:
    one_pool = '[pools.apps]\nbackends = ["127.0.0.1:9001"]\n'
    assert load(one_pool).tunnel_idle_timeout == 3600.0
    assert load("[gateway]\ntunnel_idle_timeout = 5\n" + one_pool).tunnel_idle_timeout == 5.0
    with pytest.raises(ConfigError, match="tunnel_idle_timeout"):
        load("[gateway]\ntunnel_idle_timeout = -1\n" + one_pool)


def test_the_idempotency_header_is_a_config_value() -> None:
    pools = '[pools.apps]\nbackends = ["127.0.0.1:1"]\n'
    assert load(pools).idempotency_header == "Idempotency-Key"
    assert load('[gateway]\nidempotency_header = "X-Retry-Key"\n' + pools) \
        .idempotency_header == "X-Retry-Key"
    with pytest.raises(ConfigError, match="idempotency_header"):
        load('[gateway]\nidempotency_header = "bad name"\n' + pools)
