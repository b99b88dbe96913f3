"""The folder blob store, the key rules and the blob URL forms (no server needed)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from stateline.stores.blob_folder import FolderBlobStore
from stateline.stores.blob_s3 import parse_s3_url
from stateline.stores.blobs import (
    BlobStoreUnavailable,
    BlobTooLarge,
    is_blob_id,
    is_key,
    open_blob_store,
    put_content,
    redact_blob_url,
)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_put_content_returns_the_sha256_and_get_returns_the_bytes(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path)
    blob_id = run(put_content(store, b"hello"))
    assert blob_id == hashlib.sha256(b"hello").hexdigest()
    assert run(store.get(blob_id)) == b"hello"
    assert run(store.exists(blob_id))
    # The layout older data dirs have: root/ab/abcdef...
    assert (tmp_path / blob_id[:2] / blob_id).read_bytes() == b"hello"


def test_putting_the_same_bytes_twice_is_one_blob(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path)
    assert run(put_content(store, b"x")) == run(put_content(store, b"x"))
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path)
    run(put_content(store, b"a" * 1000))
    assert not list(tmp_path.rglob(".tmp-*"))


def test_blobs_over_the_limit_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path, max_bytes=4)
    with pytest.raises(BlobTooLarge):
        run(put_content(store, b"12345"))
    with pytest.raises(BlobTooLarge):
        run(store.put("snap/1", b"12345"))
    assert not list(tmp_path.rglob("*"))


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "A" * 64, "0" * 63, "g" * 64])
def test_malformed_ids_find_nothing_and_cannot_escape_the_folder(tmp_path: Path, bad: str) -> None:
    store = FolderBlobStore(tmp_path)
    assert not is_blob_id(bad)
    if not is_key(bad):
        assert run(store.get(bad)) is None
        assert not run(store.exists(bad))


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "..", "a//b", "a/", ".hidden", "a b",
                                 "x" * 513])
def test_keys_that_could_escape_or_confuse_a_folder_are_refused(tmp_path: Path, bad: str) -> None:
    store = FolderBlobStore(tmp_path)
    assert not is_key(bad)
    with pytest.raises(ValueError):
        run(store.put(bad, b"x"))
    assert run(store.get(bad)) is None
    assert not list(tmp_path.rglob("*"))


def test_keys_by_name_put_get_exists_delete(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path)
    run(store.put("rooms/r1/snapshot.bin", b"v1"))
    run(store.put("rooms/r1/snapshot.bin", b"v2"))  # replaces
    assert run(store.get("rooms/r1/snapshot.bin")) == b"v2"
    run(store.delete("rooms/r1/snapshot.bin"))
    run(store.delete("rooms/r1/snapshot.bin"))  # a missing key is not an error
    assert run(store.get("rooms/r1/snapshot.bin")) is None
    assert not run(store.exists("rooms/r1/snapshot.bin"))


def test_a_second_store_on_the_same_folder_sees_the_blob(tmp_path: Path) -> None:
    blob_id = run(put_content(FolderBlobStore(tmp_path), b"shared"))
    assert run(FolderBlobStore(tmp_path).get(blob_id)) == b"shared"


def test_a_folder_that_cannot_be_written_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")  # a file where the store's folder should be
    store = FolderBlobStore(tmp_path / "file")
    with pytest.raises(BlobStoreUnavailable):
        run(put_content(store, b"data"))


def test_blob_urls_pick_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_blob_store(None, tmp_path), FolderBlobStore)
    folder = open_blob_store(f"file://{tmp_path}/b", Path("/unused"))
    assert isinstance(folder, FolderBlobStore) and folder.root == tmp_path / "b"
    s3 = open_blob_store("s3://bkt?endpoint=http://127.0.0.1:9000&region=eu-west-1", tmp_path)
    assert s3.describe() == "s3://bkt at http://127.0.0.1:9000"


@pytest.mark.parametrize("bad", ["ftp://x", "file://host/x", "file:relative", "s3://",
                                 "s3://bkt/path", "s3://bkt?endpont=http://x"])
def test_unusable_blob_urls_say_what_is_accepted(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="blob URL"):
        open_blob_store(bad, tmp_path)


def test_s3_url_credentials_and_short_names() -> None:
    loc = parse_s3_url("s3://b?endpoint=http%3A%2F%2Fh%3A1&access_key=AK&secret_key=SK"
                       "&virtual_hosted=true")
    assert loc.bucket == "b" and loc.virtual_hosted
    assert loc.config == {"endpoint": "http://h:1", "access_key_id": "AK",
                          "secret_access_key": "SK"}


def test_status_never_shows_the_secret() -> None:
    url = "s3://b?endpoint=http://h:1&access_key_id=AK&secret_access_key=S3CR3T&session_token=T0K"
    shown = redact_blob_url(url)
    assert "S3CR3T" not in shown and "T0K" not in shown
    assert "access_key_id=AK" in shown and "endpoint=http://h:1" in shown
    assert redact_blob_url("file:///x") == "file:///x"
