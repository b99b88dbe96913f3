"""Room snapshots in the blob store: the one module that knows how they are kept.

A snapshot is the room's state as JSON, stored as a content-addressed blob
(:func:`stores.blobs.put_content`: its id is the SHA-256 of the bytes, so a
retried or repeated snapshot is harmless); the room's pointer in Redis
(``log.py``) says which blob and which log entry it covers. Whatever backend
the blob store has (a folder, S3 on the embedded SeaweedFS), only this file
talks to it.
"""

from __future__ import annotations

from typing import Any

import orjson

from stateline.stores.blobs import BlobStore, put_content


async def save(blobs: BlobStore, state: dict[str, Any]) -> str:
    """Store one room's state; returns the blob id to point at."""
    return await put_content(blobs, orjson.dumps(state, option=orjson.OPT_SORT_KEYS))


async def load(blobs: BlobStore, blob_id: str) -> dict[str, Any] | None:
    """The state saved under ``blob_id``, or ``None`` if the blob is gone."""
    data = await blobs.get(blob_id)
    return orjson.loads(data) if data is not None else None
