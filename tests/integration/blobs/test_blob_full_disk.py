"""A blob write on a really full filesystem: unavailable (503 upstairs), nothing half-written.

Issue 10, item 8: the folder store used to let ``OSError: No space left on
device`` escape (a 500). The filesystems here are real: small tmpfs mounts.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from stateline.local import blob_server
from stateline.stores.blob_folder import TMP_PREFIX, FolderBlobStore
from stateline.stores.blobs import BlobStoreUnavailable, open_blob_store, put_content

TinyFs = Callable[[str], AbstractContextManager[Path]]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 60))


def fill(root: Path, leave: int) -> Path:
    """Fill the filesystem at ``root`` until at most ``leave`` bytes are free."""
    filler = root / "filler"
    with filler.open("wb") as f:
        chunk = b"\0" * 65536
        try:
            while True:
                st = os.statvfs(root)
                free = st.f_bavail * st.f_frsize
                if free <= leave:
                    break
                f.write(chunk[: min(len(chunk), free - leave)] or chunk[:1])
                f.flush()
        except OSError:
            pass
    return filler


def test_folder_store_on_a_full_disk_leaves_nothing_behind(tiny_fs: TinyFs) -> None:
    with tiny_fs("1m") as root:
        store = FolderBlobStore(root / "blobs")
        first = run(put_content(store, b"fits"))
        filler = fill(root, leave=16 * 1024)
        data = os.urandom(256 * 1024)  # more than is left
        with pytest.raises(BlobStoreUnavailable, match="No space left"):
            run(put_content(store, data))
        assert not [p for p in root.rglob(f"{TMP_PREFIX}*")], "a temporary file was left"
        assert run(store.get(hashlib.sha256(data).hexdigest())) is None
        assert run(store.get(first)) == b"fits"  # what was acknowledged is still there
        filler.unlink()
        assert run(store.get(run(put_content(store, data)))) == data  # space again: it works


def test_s3_store_on_a_full_disk_is_unavailable_and_the_object_absent(
        tiny_fs: TinyFs) -> None:
    binary = blob_server.weed_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{blob_server.PACKAGE} is a dependency")
        pytest.skip(f"{blob_server.PACKAGE} not installed")
    with tiny_fs("24m") as root:
        server = blob_server.BlobServer.prepare(root / "data", binary)
        proc = blob_server.run_standalone(server)
        try:
            store = open_blob_store(server.url, Path("/unused"))
            acknowledged: list[tuple[str, bytes]] = []
            refused: bytes | None = None
            for _ in range(100):  # 100 x 512 KiB cannot fit in 24 MiB
                data = os.urandom(512 * 1024)
                try:
                    acknowledged.append((run(put_content(store, data)), data))
                except BlobStoreUnavailable:
                    refused = data
                    break
            assert refused is not None, "the disk never filled up"
            assert run(store.get(hashlib.sha256(refused).hexdigest())) is None
            for blob_id, data in acknowledged:
                assert run(store.get(blob_id)) == data
        finally:
            blob_server.stop(proc)
