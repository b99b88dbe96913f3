"""Idempotency-Key against real Redis (a single server and a cluster) and real SQLite.

Replays, a concurrent repeat, a reused key with another body, a malformed
key, TTL expiry (driven by expiring the record in Redis, not by sleeping), for
the Redis-native writes (one Lua script) and the SQL one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stateline.app.idempotency import record_key
from stateline.settings import Settings
from stateline.stores.redis import connect_sync

HANG_GUARD_S = 20.0


@pytest.fixture
def keyed(any_redis_url: str, settings_for: Callable[..., Settings],
          run_app: Callable[..., Any]) -> Iterator[tuple[Any, Any, Settings]]:
    settings = settings_for(any_redis_url)
    redis = connect_sync(any_redis_url, decode_responses=True)
    with run_app(settings, "app-idem") as client:
        yield client, redis, settings
    redis.close()


def _wait(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not cond():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def test_counter_increment_replays_and_applies_once(keyed: Any, unique: str) -> None:
    client, _, _ = keyed
    before = client.get("/api/counter").json()["value"]
    first = client.post("/api/counter/incr", headers={"idempotency-key": unique})
    second = client.post("/api/counter/incr", headers={"idempotency-key": unique})
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["content-type"] == "application/json"
    assert client.get("/api/counter").json()["value"] == before + 1 <= first.json()["value"]


def test_cart_add_replays_its_total_and_another_body_is_422(keyed: Any, unique: str) -> None:
    client, _, _ = keyed
    path = f"/api/carts/u{unique}/items"
    key = {"idempotency-key": f'"{unique}"'}  # the draft's sf-string form
    first = client.post(path, json={"sku": "tea", "qty": 2}, headers=key)
    again = client.post(path, json={"sku": "tea", "qty": 2}, headers={"idempotency-key": unique})
    assert first.json() == again.json() == {"user_id": f"u{unique}", "sku": "tea", "qty": 2}
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post(path, json={"sku": "tea", "qty": 3}, headers=key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert client.get(f"/api/carts/u{unique}").json()["items"] == [{"sku": "tea", "qty": 2}]
    # The same key on another user's cart is another scope: it applies there.
    elsewhere = client.post(f"/api/carts/v{unique}/items", json={"sku": "tea", "qty": 2},
                            headers=key)
    assert elsewhere.status_code == 200 and "idempotent-replayed" not in elsewhere.headers


def test_unkeyed_requests_are_applied_every_time(keyed: Any, unique: str) -> None:
    client, _, _ = keyed
    path = f"/api/carts/u{unique}/items"
    for _ in range(2):
        client.post(path, json={"sku": "tea", "qty": 1})
    assert client.get(f"/api/carts/u{unique}").json()["items"] == [{"sku": "tea", "qty": 2}]


@pytest.mark.parametrize("value", ["", "a b", "x" * 256, '"', "caf\u00e9", 'a"b'])
def test_a_malformed_key_is_400_and_nothing_is_applied(keyed: Any, unique: str,
                                                       value: str) -> None:
    client, _, _ = keyed
    response = client.post(f"/api/carts/u{unique}/items", json={"sku": "tea", "qty": 1},
                           headers={"idempotency-key": value.encode("utf-8")})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert client.get(f"/api/carts/u{unique}").json()["items"] == []


def test_two_key_headers_are_400(keyed: Any) -> None:
    client, _, _ = keyed
    response = client.post("/api/counter/incr",
                           headers=[("idempotency-key", "a"), ("idempotency-key", "b")])
    assert response.status_code == 400


def test_ttl_expiry_forgets_the_key(keyed: Any, unique: str) -> None:
    client, redis, settings = keyed
    before = client.get("/api/counter").json()["value"]
    client.post("/api/counter/incr", headers={"idempotency-key": unique})
    key = record_key("POST /api/counter/incr", "requests", unique)
    ttl_ms = redis.pttl(key)
    assert 0 < ttl_ms <= settings.idempotency_ttl_s * 1000
    redis.pexpire(key, 1)  # the TTL runs out now rather than in a day
    _wait(lambda: not redis.exists(key), "record expired")
    again = client.post("/api/counter/incr", headers={"idempotency-key": unique})
    assert "idempotent-replayed" not in again.headers
    assert client.get("/api/counter").json()["value"] == before + 2


def test_player_and_session_replays(keyed: Any, unique: str) -> None:
    client, _, _ = keyed
    key = {"idempotency-key": unique}
    put = [client.put(f"/api/players/p{unique}/position", json={"x": 1.5, "y": 2}, headers=key)
           for _ in range(2)]
    assert put[0].json() == put[1].json() == {"player_id": f"p{unique}", "x": 1.5, "y": 2}
    assert put[1].headers["idempotent-replayed"] == "true"
    first = client.post("/api/sessions", json={"user": "ada"}, headers=key)
    again = client.post("/api/sessions", json={"user": "ada"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["set-cookie"] == first.headers["set-cookie"]  # the same session


def test_user_create_replays_201_instead_of_409(keyed: Any, unique: str) -> None:
    client, _, _ = keyed
    body = {"name": "Ada", "email": f"ada-{unique}@example.com"}
    key = {"idempotency-key": unique}
    first = client.post("/api/users", json=body, headers=key)
    again = client.post("/api/users", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    unkeyed = client.post("/api/users", json=body)
    assert unkeyed.status_code == 409  # without a key, the retry is a new request


def test_a_client_error_is_recorded_and_replayed(keyed: Any, unique: str) -> None:
    client, _, _ = keyed
    key = {"idempotency-key": unique}
    bad = [client.post("/api/users", json={"name": "Ada", "email": "nope"}, headers=key)
           for _ in range(2)]
    assert bad[0].status_code == bad[1].status_code == 422
    assert bad[1].headers["idempotent-replayed"] == "true"


def test_a_concurrent_repeat_gets_409_while_the_first_runs(
    redis_url: str, tmp_path: Path, run_app: Callable[..., Any], unique: str,
) -> None:
    """The first attempt is held inside its SQL insert by a lock this test owns."""
    db = tmp_path / "held.db"
    settings = Settings(redis_url=redis_url, data_dir=tmp_path / "data",
                        database_url=f"sqlite:///{db}")
    redis = connect_sync(redis_url, decode_responses=True)
    body = {"name": "Ada", "email": f"ada-{unique}@example.com"}
    key = record_key("POST /api/users", "POST /api/users", unique)
    with run_app(settings, "app-held") as client:
        lock = sqlite3.connect(db, isolation_level=None, timeout=HANG_GUARD_S)
        lock.execute("BEGIN IMMEDIATE")  # the app's INSERT now waits for us
        try:
            first = client._portal.start_task_soon(
                lambda: client._client.post("/api/users", json=body,
                                            headers={"idempotency-key": unique}))
            _wait(lambda: redis.hget(key, "state") == "inflight", "first attempt claimed")
            repeat = client.post("/api/users", json=body, headers={"idempotency-key": unique})
            assert repeat.status_code == 409
            assert repeat.json()["error"]["code"] == "idempotency_in_flight"
            assert repeat.headers["retry-after"] == "1"
        finally:
            lock.execute("COMMIT")
            lock.close()
        assert first.result(HANG_GUARD_S).status_code == 201
        replay = client.post("/api/users", json=body, headers={"idempotency-key": unique})
        assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    redis.close()


def test_a_keyed_cart_delete_replays_its_204(keyed: Any, unique: str) -> None:
    client, _, _ = keyed
    client.post(f"/api/carts/u{unique}/items", json={"sku": "tea", "qty": 1})
    key = {"idempotency-key": unique}
    first = client.delete(f"/api/carts/u{unique}/items/tea", headers=key)
    again = client.delete(f"/api/carts/u{unique}/items/tea", headers=key)
    assert first.status_code == again.status_code == 204
    assert again.content == b"" and again.headers["idempotent-replayed"] == "true"
    assert client.get(f"/api/carts/u{unique}").json()["items"] == []
