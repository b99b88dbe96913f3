"""Registry pieces that need no Redis: key layout, snapshot parsing, argument checks."""

from __future__ import annotations

import json

import pytest

from stateline.registry import Member, Registrar, info_key, members_key, parse_snapshot
from stateline.stores.redis import connect


def info(id: str, address: str, state: str = "up") -> bytes:
    return json.dumps({"id": id, "address": address, "state": state, "pid": 1}).encode()


def test_keys_share_one_hash_tag_so_a_cluster_keeps_them_in_one_slot() -> None:
    assert members_key("apps") == "stateline:{stateline-registry}:members:apps"
    assert info_key("apps") == "stateline:{stateline-registry}:info:apps"


def test_snapshot_reply_becomes_members_sorted_by_id() -> None:
    flat = [b"app-2", info("app-2", "127.0.0.1:2", "draining"), "app-1", info("app-1", "h:1")]
    assert parse_snapshot(flat) == [Member("app-1", "h:1", "up"),
                                    Member("app-2", "127.0.0.1:2", "draining")]


def test_unreadable_entries_are_skipped_not_fatal() -> None:
    flat = [b"a", None, b"b", b"{not json", b"c", b'{"id": "c"}', b"d", info("d", "h:4")]
    assert parse_snapshot(flat) == [Member("d", "h:4", "up")]


def test_member_knows_when_it_is_draining() -> None:
    assert Member("a", "h:1", "draining").draining
    assert not Member("a", "h:1", "up").draining


@pytest.mark.parametrize(("ttl_ms", "interval_s"), [(0, 1.0), (3000, 0.0), (1000, 1.0)])
def test_registrar_refuses_a_heartbeat_slower_than_its_ttl(ttl_ms: int, interval_s: float) -> None:
    client = connect("redis://127.0.0.1:9/0")  # never contacted: the arguments are refused first
    with pytest.raises(ValueError):
        Registrar(client, "apps", "app-1", "h:1", ttl_ms=ttl_ms, interval_s=interval_s)
