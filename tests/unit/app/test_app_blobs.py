"""The local-folder blob store: content-addressed, atomic, size-limited."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from stateline.stores.blobs import BlobStore, BlobTooLarge, is_blob_id


def test_put_returns_the_sha256_and_get_returns_the_bytes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blob_id = store.put(b"hello")
    assert blob_id == hashlib.sha256(b"hello").hexdigest()
    assert store.get(blob_id) == b"hello"
    assert store.exists(blob_id)


def test_putting_the_same_bytes_twice_is_one_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    assert store.put(b"x") == store.put(b"x")
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    store.put(b"a" * 1000)
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_blobs_over_the_limit_are_refused(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=4)
    with pytest.raises(BlobTooLarge):
        store.put(b"12345")
    assert not list(tmp_path.rglob("*"))


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "A" * 64, "0" * 63, "g" * 64])
def test_malformed_ids_find_nothing_and_cannot_escape_the_folder(tmp_path: Path, bad: str) -> None:
    store = BlobStore(tmp_path)
    assert not is_blob_id(bad)
    assert store.get(bad) is None
    assert not store.exists(bad)


def test_a_second_store_on_the_same_folder_sees_the_blob(tmp_path: Path) -> None:
    blob_id = BlobStore(tmp_path).put(b"shared")
    assert BlobStore(tmp_path).get(blob_id) == b"shared"
