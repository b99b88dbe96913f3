"""The folder backend of the blob store (``file:///path``): one machine's shared disk.

A content-addressed id lives at ``root/ab/abcdef...`` (the layout stateline
has always used, so older data dirs still read); any other key at
``root/keys/<key>``. A write goes to a temporary file in the target's own
folder, is fsynced and renamed into place, so a reader sees a whole blob or
none. If the disk fills up (or any other OS error strikes) mid-write, the
temporary file is removed before :class:`BlobStoreUnavailable` is raised:
nothing half-written is left behind, and the app answers 503, not 500.

The work is blocking file I/O, run in a thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path

from stateline.stores.blobs import (
    DEFAULT_MAX_BYTES,
    BlobStoreUnavailable,
    BlobTooLarge,
    check_key,
    is_blob_id,
    is_key,
)

TMP_PREFIX = ".tmp-"


class FolderBlobStore:
    """Blobs as files under ``root``; see the module docstring for layout and guarantees."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def describe(self) -> str:
        return f"file://{self.root.resolve()}"

    def path_of(self, key: str) -> Path:
        check_key(key)
        if is_blob_id(key):
            return self.root / key[:2] / key
        return self.root / "keys" / key

    # -- blocking work, run in a thread ------------------------------------

    def put_sync(self, key: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            raise BlobTooLarge(f"blob of {len(data)} bytes is over the {self.max_bytes} limit")
        path = self.path_of(key)
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            raise BlobStoreUnavailable(f"folder store {self.root}: cannot write {key}: "
                                       f"{exc.strerror or exc}") from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def get_sync(self, key: str) -> bytes | None:
        if not is_key(key):
            return None
        try:
            return self.path_of(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise BlobStoreUnavailable(f"folder store {self.root}: cannot read {key}: "
                                       f"{exc.strerror or exc}") from exc

    def exists_sync(self, key: str) -> bool:
        return is_key(key) and self.path_of(key).is_file()

    def delete_sync(self, key: str) -> None:
        try:
            self.path_of(key).unlink(missing_ok=True)
        except OSError as exc:
            raise BlobStoreUnavailable(f"folder store {self.root}: cannot delete {key}: "
                                       f"{exc.strerror or exc}") from exc

    # -- the async interface -----------------------------------------------

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self.put_sync, key, data)

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self.get_sync, key)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.exists_sync, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.delete_sync, key)

    async def close(self) -> None:
        return None
