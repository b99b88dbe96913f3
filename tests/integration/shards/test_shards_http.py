"""The rooms endpoints of one shard over HTTP (Starlette in process, real Redis).

Bad input is a 4xx JSON error and never reaches the log; a room this shard
does not own is a 421 naming the owner, which the gateway retries elsewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stateline.shards import api
from stateline.shards.rooms import Owners
from stateline.shards.server import create_app
from stateline.stores.blobs import open_blob_store
from stateline.stores.redis import connect


@pytest.fixture
def client(redis_url: str, tmp_path: Path) -> Iterator[TestClient]:
    rooms = api.ROOMS
    rooms.bind(connect(redis_url), open_blob_store(None, tmp_path / "blobs"), "shard-1/t")
    rooms.set_members(["shard-1", "shard-2"])
    rooms.ready = True
    try:
        with TestClient(create_app("shard-1")) as c:
            yield c
    finally:
        rooms.ready = False
        rooms.rooms.clear()
        rooms.holdings.clear()


def _room_owned_by(shard: str) -> str:
    owners = Owners(["shard-1", "shard-2"])
    while True:
        room = f"h{uuid.uuid4().hex[:8]}"
        if owners.owner(room) == shard:
            return room


def test_join_move_read_leave(client: TestClient) -> None:
    room = _room_owned_by("shard-1")
    r = client.post(f"/api/rooms/{room}/players", json={"player_id": "ada", "x": 1, "y": 2})
    assert r.status_code == 201 and r.headers["x-instance-id"] == "shard-1"
    assert client.post(f"/api/rooms/{room}/players", json={"player_id": "ada"}).status_code == 200
    r = client.put(f"/api/rooms/{room}/players/ada/position", json={"x": 3.5, "y": -4})
    assert r.json() == {"room_id": room, "player_id": "ada", "x": 3.5, "y": -4.0}
    assert client.get(f"/api/rooms/{room}").json() == {
        "room_id": room, "players": [{"player_id": "ada", "x": 3.5, "y": -4.0}]}
    assert client.get(f"/api/rooms/{room}/players/ada/position").json()["x"] == 3.5
    assert client.delete(f"/api/rooms/{room}/players/ada").status_code == 204
    assert client.get(f"/api/rooms/{room}").json()["players"] == []


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"x": "1", "y": 2}, 422, "invalid_field"),
    ({"x": 1}, 422, "invalid_field"),
    ({"x": 2e6, "y": 0}, 400, "out_of_bounds"),
    ({"x": True, "y": 0}, 422, "invalid_field"),
    ([1, 2], 422, None),
])
def test_a_bad_move_is_a_4xx_json_error(client: TestClient, body: object, status: int,
                                        code: str | None) -> None:
    room = _room_owned_by("shard-1")
    client.post(f"/api/rooms/{room}/players", json={"player_id": "ada"})
    r = client.put(f"/api/rooms/{room}/players/ada/position", json=body)
    assert r.status_code // 100 == 4, r.text
    if code is not None:
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert set(r.json()["error"]) == {"code", "message"}


def test_bad_ids_and_unknown_players(client: TestClient) -> None:
    room = _room_owned_by("shard-1")
    r = client.post(f"/api/rooms/{room}/players", json={"player_id": "a b"})
    assert r.status_code == 422
    r = client.put(f"/api/rooms/{room}/players/bob/position", json={"x": 1, "y": 1})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_in_room")
    assert client.get("/api/rooms/" + "x" * 65).status_code == 422
    r = client.post(f"/api/rooms/{room}/players", content=b"{", headers={
        "content-type": "application/json"})
    assert r.status_code == 400


def test_a_room_of_another_shard_is_refused_with_421_naming_its_owner(
        client: TestClient) -> None:
    room = _room_owned_by("shard-2")
    r = client.get(f"/api/rooms/{room}")
    assert r.status_code == 421
    assert r.headers["x-stateline-owner"] == "shard-2"
    assert r.json()["error"]["code"] == "misdirected"
    r = client.put(f"/api/rooms/{room}/players/ada/position", json={"x": 1, "y": 1})
    assert r.status_code == 421
    assert room not in api.ROOMS.rooms
