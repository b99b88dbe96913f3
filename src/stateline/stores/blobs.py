"""The blob store: bytes by key, behind one small async interface, on a folder or S3.

An uploaded image kept on one instance's local disk is accidental state: the
next request, sent by the gateway to another instance, cannot find it. The
blob store is the stateful tier's answer. ``STATELINE_BLOB_URL`` picks where
the bytes live:

- ``s3://BUCKET?endpoint=http://HOST:PORT&region=...`` -- any S3 API
  (SeaweedFS, which ``stateline up`` embeds, MinIO, AWS); see :mod:`blob_s3`;
- ``file:///path`` -- a folder shared by the instances of one machine; see
  :mod:`blob_folder`.

The interface (:class:`BlobStore`) is four async calls by key -- ``put``,
``get``, ``exists``, ``delete`` -- so any tier that needs bytes kept (image
originals, room snapshots) can use it without knowing the backend. Every
backend gives the same guarantees: a reader sees a whole blob or none (atomic
visibility), a blob over ``max_bytes`` is refused before anything is written,
and a store that cannot answer raises :class:`BlobStoreUnavailable`, which the
app turns into ``503 store_unavailable`` -- never a 500.

Content addressing lives above the backends, in :func:`put_content`: an id is
the SHA-256 of the bytes, so writing the same bytes twice is harmless, ids
cannot be guessed from other ids, and concurrent writers of one blob race to
the same content.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

#: Default largest blob: the image service's body limit.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_ID = re.compile(r"[0-9a-f]{64}")
#: Keys are relative paths of safe characters: no leading "/", no "." or ".." segment.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
MAX_KEY_LENGTH = 512


class BlobTooLarge(ValueError):
    """A blob over the store's size limit."""


class BlobStoreUnavailable(RuntimeError):
    """The store could not be reached or could not take the write (full disk, server down).

    The message is for the log; clients only ever see ``store_unavailable``.
    """


def is_blob_id(value: str) -> bool:
    """Whether ``value`` could name a content-addressed blob (a SHA-256 in lowercase hex)."""
    return bool(_ID.fullmatch(value))


def is_key(value: str) -> bool:
    """Whether ``value`` is a key any backend can store (and cannot escape a folder)."""
    return len(value) <= MAX_KEY_LENGTH and bool(_KEY.fullmatch(value)) \
        and ".." not in value.split("/")


def check_key(key: str) -> str:
    if not is_key(key):
        raise ValueError(f"not a blob key: {key!r}")
    return key


class BlobStore(Protocol):
    """Bytes by key. Every method may raise :class:`BlobStoreUnavailable`."""

    #: ``put`` refuses more than this with :class:`BlobTooLarge`, before writing anything.
    max_bytes: int

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing what was there; visible whole or not at all."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or ``None`` if there are none (or the key is malformed)."""
        ...

    async def exists(self, key: str) -> bool:
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        ...

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...

    def describe(self) -> str:
        """Where the bytes go, for logs and ``status`` (never a secret)."""
        ...


async def put_content(store: BlobStore, data: bytes) -> str:
    """Store ``data`` under its SHA-256 and return that id (idempotent)."""
    if len(data) > store.max_bytes:
        raise BlobTooLarge(f"blob of {len(data)} bytes is over the {store.max_bytes} limit")
    blob_id = hashlib.sha256(data).hexdigest()
    if not await store.exists(blob_id):
        await store.put(blob_id, data)
    return blob_id


_SECRET_PARAMS = ("secret_access_key", "secret_key", "session_token")


def redact_blob_url(url: str) -> str:
    """``url`` with its secret parameters shown as ``***``, for ``status`` and logs."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, "***" if k in _SECRET_PARAMS else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query, safe=":/*")))


def open_blob_store(url: str | None, default_root: Path,
                    max_bytes: int = DEFAULT_MAX_BYTES) -> BlobStore:
    """The store ``url`` names; ``None`` or ``""`` means the folder ``default_root``.

    Raises ``ValueError`` (with the accepted forms) for a URL it cannot use.
    """
    if not url:
        from stateline.stores.blob_folder import FolderBlobStore
        return FolderBlobStore(default_root, max_bytes)
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from stateline.stores.blob_folder import FolderBlobStore
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"blob URL {url!r}: use file:///absolute/path")
        return FolderBlobStore(Path(unquote(parts.path)), max_bytes)
    if scheme == "s3":
        from stateline.stores.blob_s3 import S3BlobStore
        return S3BlobStore.from_url(url, max_bytes)
    raise ValueError(f"blob URL {url!r}: use s3://BUCKET?endpoint=... or file:///path")
