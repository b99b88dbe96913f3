"""Room snapshots in the blob store: the one module that knows how they are kept.

A snapshot is the room's state as JSON, stored as a blob (the blob store's
put/get by content id); the room's pointer in Redis (``log.py``) says which
blob and which log entry it covers. Keeping this behind two functions means a
change of blob backend (folder, S3) touches this file alone. The blob store is
blocking I/O, so both run in a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from stateline.stores.blobs import BlobStore


async def save(blobs: BlobStore, state: dict[str, Any]) -> str:
    """Store one room's state; returns the blob id to point at."""
    data = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    return await asyncio.to_thread(blobs.put, data)


async def load(blobs: BlobStore, blob_id: str) -> dict[str, Any] | None:
    """The state saved under ``blob_id``, or ``None`` if the blob is gone."""
    data = await asyncio.to_thread(blobs.get, blob_id)
    return orjson.loads(data) if data is not None else None
