"""One contract, two backends: the folder store and S3 on a real SeaweedFS (no mocks)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path

import obstore
import pytest
from obstore.store import S3Store

from stateline.local.blob_server import BUCKET, REGION, BlobServer
from stateline.local.procs import free_port
from stateline.stores.blobs import (
    BlobStore,
    BlobStoreUnavailable,
    BlobTooLarge,
    open_blob_store,
    put_content,
)

#: A hang guard only: every call here answers in well under a second.
GUARD_S = 60


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, GUARD_S))


def test_content_addressed_round_trip(blob_store: BlobStore) -> None:
    data = os.urandom(64 * 1024)
    blob_id = run(put_content(blob_store, data))
    assert blob_id == hashlib.sha256(data).hexdigest()
    assert run(blob_store.exists(blob_id))
    assert run(blob_store.get(blob_id)) == data
    assert run(put_content(blob_store, data)) == blob_id  # idempotent


def test_a_missing_blob_is_none_not_an_error(blob_store: BlobStore) -> None:
    missing = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    assert run(blob_store.get(missing)) is None
    assert not run(blob_store.exists(missing))


def test_keys_by_name_replace_and_delete(blob_store: BlobStore) -> None:
    key = f"rooms/{uuid.uuid4().hex}/snapshot"
    run(blob_store.put(key, b"v1"))
    run(blob_store.put(key, b"v2"))
    assert run(blob_store.get(key)) == b"v2"
    run(blob_store.delete(key))
    run(blob_store.delete(key))
    assert run(blob_store.get(key)) is None


def test_over_the_limit_nothing_is_stored(blob_url: str, tmp_path: Path) -> None:
    store = open_blob_store(blob_url, tmp_path, max_bytes=1000)
    data = os.urandom(1001)
    with pytest.raises(BlobTooLarge):
        run(put_content(store, data))
    assert run(store.get(hashlib.sha256(data).hexdigest())) is None


def test_concurrent_writers_of_one_blob_agree(blob_store: BlobStore) -> None:
    data = os.urandom(256 * 1024)

    async def many() -> list[str]:
        return await asyncio.gather(*(put_content(blob_store, data) for _ in range(8)))

    ids = run(many())
    assert set(ids) == {hashlib.sha256(data).hexdigest()}
    assert run(blob_store.get(ids[0])) == data


def test_a_large_blob_round_trips_whole(blob_store: BlobStore) -> None:
    data = os.urandom(8 * 1024 * 1024)
    blob_id = run(put_content(blob_store, data))
    assert run(blob_store.get(blob_id)) == data


def test_an_uploaded_blob_is_an_object_in_the_bucket(seaweedfs: BlobServer) -> None:
    """Read back with a client of its own: the object is really in SeaweedFS's bucket."""
    store = open_blob_store(seaweedfs.url, Path("/unused"))
    data = os.urandom(4096)
    blob_id = run(put_content(store, data))
    direct = S3Store(BUCKET, endpoint=seaweedfs.endpoint, region=REGION,
                     access_key_id=seaweedfs.access_key,
                     secret_access_key=seaweedfs.secret_key,
                     client_options={"allow_http": True})
    assert bytes(obstore.get(direct, blob_id).bytes()) == data


def test_a_server_that_is_not_there_is_unavailable_quickly(tmp_path: Path) -> None:
    url = f"s3://{BUCKET}?endpoint=http://127.0.0.1:{free_port()}&access_key_id=a" \
          "&secret_access_key=b&region=us-east-1"
    store = open_blob_store(url, tmp_path)
    some_id = hashlib.sha256(b"x").hexdigest()
    for call in (put_content(store, b"x"), store.get(some_id), store.exists(some_id),
                 store.delete(some_id)):
        with pytest.raises(BlobStoreUnavailable):
            run(call)


def test_wrong_credentials_are_unavailable_not_a_crash(seaweedfs: BlobServer,
                                                       tmp_path: Path) -> None:
    url = f"s3://{BUCKET}?endpoint={seaweedfs.endpoint}&region={REGION}" \
          "&access_key_id=nobody&secret_access_key=wrong"
    store = open_blob_store(url, tmp_path)
    with pytest.raises(BlobStoreUnavailable):
        run(put_content(store, b"y" * 10))
