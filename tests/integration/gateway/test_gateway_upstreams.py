"""Upstreams that misbehave on purpose: garbage, hangs, resets, deaths, 5xx; retries, ejection."""

from __future__ import annotations

import contextlib
import signal
import threading
import time

import pytest
from gwtest import Reader, admin, connect, free_port, get, pool_toml, request, wait_until


@pytest.fixture(scope="module")
def gw(backends, gateway):
    b = backends("b1")
    return gateway(pool_toml(b.address, response_timeout=1.0, health_checks=False))


def test_garbage_from_the_upstream_is_a_502_json_error(gw) -> None:
    r = get(gw.port, "/garbage")
    assert r.status == 502 and r.json()["error"]["code"] == "bad_upstream_response"


def test_a_response_head_over_64_kib_is_a_502_and_a_smaller_one_passes(gw) -> None:
    """The gateway holds a response head until it is complete: it caps its size."""
    r = get(gw.port, "/big-head?n=700")  # 70 kB of fields
    assert r.status == 502 and r.json()["error"]["code"] == "bad_upstream_response"
    r = get(gw.port, "/big-head?n=300")  # 30 kB
    assert r.status == 200 and r.body == b"ok" and r.headers["x-filler-000299"] == "f" * 82


def test_an_upstream_that_never_answers_is_a_504_json_error(gw) -> None:
    started = time.monotonic()
    r = get(gw.port, "/hang")
    assert r.status == 504 and r.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 4.0


def test_a_response_cut_mid_body_closes_the_client_connection(gw) -> None:
    with connect(gw.port) as s:
        s.sendall(b"GET /close-mid HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(s)
        with pytest.raises(ConnectionError):
            reader.response()


def test_the_gateway_keeps_serving_after_misbehaviour(gw) -> None:
    for path in ("/garbage", "/close-mid"):
        with contextlib.suppress(ConnectionError):
            get(gw.port, path)
    assert get(gw.port, "/fine").status == 200


def test_a_non_retryable_upstream_5xx_is_passed_through(gw) -> None:
    r = request(gw.port, b"POST /status/503 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    assert r.status == 503 and r.json()["status"] == 503  # the app's answer, not ours


def test_no_reachable_upstream_is_a_json_5xx_never_a_hang(gateway) -> None:
    dead = f"127.0.0.1:{free_port()}"
    g = gateway(pool_toml(dead, health_checks=False))
    for _ in range(7):  # before and after its ejection (then the pool panics: tries it anyway)
        r = get(g.port, "/x")
        assert r.status == 502 and r.json()["error"]["code"] == "upstream_unreachable"


def test_retries_go_to_another_instance_when_one_refuses_connections(backends, gateway) -> None:
    good = backends("good")
    dead = f"127.0.0.1:{free_port()}"
    g = gateway(pool_toml(dead, good.address, health_checks=False))
    for _ in range(10):
        r = get(g.port, "/x")
        assert r.status == 200 and r.headers["x-served-by"] == good.address


def test_an_idempotent_request_is_retried_after_a_503_and_a_post_is_not(backends, gateway) -> None:
    bad, good = backends("bad"), backends("good")
    g = gateway(pool_toml(bad.address, good.address, health_checks=False))
    # /status/503 answers 503 on both, so a GET is retried once and then passed through
    statuses = {get(g.port, "/status/503").status for _ in range(4)}
    assert statuses == {503}
    stats = admin(g.port, "GET", "/_stateline/stats").json()["pools"]["apps"]
    assert stats["retries"] >= 4
    before = stats["retries"]
    request(g.port, b"POST /status/503 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    after = admin(g.port, "GET", "/_stateline/stats").json()["pools"]["apps"]["retries"]
    assert after == before


@pytest.mark.slow
def test_killing_one_of_three_instances_under_load_fails_no_gets(backends, gateway) -> None:
    bs = [backends(f"app-{i}") for i in range(3)]
    clients = 8
    # How many of the 8 requests are in flight on the killed instance at that moment
    # depends on scheduling (on a busy machine, all of them can be); the retry budget's
    # floor is set to the client count so that every one of them may be retried whatever
    # the timing. The budget itself is pinned by the retry unit tests.
    g = gateway(pool_toml(*(b.address for b in bs), health_checks=False,
                          min_retry_concurrency=clients))
    failures: list[str] = []
    served: dict[str, int] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        while not stop.is_set():
            try:
                with connect(g.port) as s:
                    reader = Reader(s)
                    for _ in range(50):
                        if stop.is_set():
                            return
                        s.sendall(b"GET /work HTTP/1.1\r\nHost: t\r\n\r\n")
                        r = reader.response()
                        with lock:
                            if r.status != 200:
                                failures.append(f"{r.status} {r.body[:80]!r}")
                            else:
                                served[r.headers["x-served-by"]] = (
                                    served.get(r.headers["x-served-by"], 0) + 1)
            except OSError as exc:
                with lock:
                    failures.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    bs[1].stop(signal.SIGKILL)
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join(10)
    total = sum(served.values())
    assert failures == [], admin(g.port, "GET", "/_stateline/stats").json()
    assert total > 100
    assert served.get(bs[0].address, 0) > 0 and served.get(bs[2].address, 0) > 0
    # the dead instance gets ejected, or at least every request to it was retried
    pools = admin(g.port, "GET", "/_stateline/pools").json()["pools"][0]
    dead = next(m for m in pools["members"] if m["id"] == bs[1].address)
    assert dead["errors"]


def test_active_health_checks_take_a_dead_instance_out(backends, gateway) -> None:
    a, b = backends("a"), backends("b")
    g = gateway(pool_toml(a.address, b.address,
                          outlier={"interval": 0.2, "timeout": 0.5, "unhealthy_threshold": 2}))
    b.stop(signal.SIGKILL)

    def b_unhealthy() -> bool:
        pools = admin(g.port, "GET", "/_stateline/pools").json()["pools"][0]
        state = next(m for m in pools["members"] if m["id"] == b.address)
        return state["state"] != "healthy"

    assert wait_until(b_unhealthy, 5.0)
    assert {get(g.port, "/x").headers["x-served-by"] for _ in range(6)} == {a.address}
