"""The blob store: content-addressed bytes in a local folder.

An uploaded image kept on one instance's local disk is accidental state: the
next request, sent by the gateway to another instance, cannot find it. The
blob store is the stateful tier's answer. Here it is a folder under the data
dir, shared by every instance on this machine; on a real deployment the same
interface sits on shared storage or an S3-compatible bucket, and nothing above
it changes.

A blob's id is the SHA-256 of its bytes, so writing the same bytes twice is
harmless, ids cannot be guessed from other ids, and concurrent writers of one
blob race to the same content. Writes go to a temporary file in the same folder
and are renamed into place, so a reader sees a whole blob or none. The store
is blocking file I/O: async callers run it in a thread.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

#: Default largest blob: the image service's body limit.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_ID = re.compile(r"[0-9a-f]{64}")


class BlobTooLarge(ValueError):
    """A blob over the store's size limit."""


def is_blob_id(value: str) -> bool:
    """Whether ``value`` could name a blob (also keeps ids from escaping the folder)."""
    return bool(_ID.fullmatch(value))


class BlobStore:
    """Blobs under ``root/ab/abcdef...``, named by the SHA-256 of their content."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def _path(self, blob_id: str) -> Path:
        if not is_blob_id(blob_id):
            raise ValueError(f"not a blob id: {blob_id!r}")
        return self.root / blob_id[:2] / blob_id

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its id (idempotent)."""
        if len(data) > self.max_bytes:
            raise BlobTooLarge(f"blob of {len(data)} bytes is over the {self.max_bytes} limit")
        blob_id = hashlib.sha256(data).hexdigest()
        path = self._path(blob_id)
        if path.exists():
            return blob_id
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return blob_id

    def get(self, blob_id: str) -> bytes | None:
        """The blob's bytes, or ``None`` if there is no such blob (or the id is malformed)."""
        if not is_blob_id(blob_id):
            return None
        try:
            return self._path(blob_id).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, blob_id: str) -> bool:
        return is_blob_id(blob_id) and self._path(blob_id).is_file()
