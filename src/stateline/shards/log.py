"""Each room's durable log: a Redis Stream, appended to only with the current fencing token.

A move is acknowledged to the client only after :meth:`RoomLog.append`
returned, i.e. after Redis has the entry (the embedded cluster runs with AOF
on). The append script compares the writer's token with the room's fencing
counter in the same atomic step as the ``XADD``: a shard whose lease was taken
over cannot add a single entry after the takeover, whatever it believes.

The snapshot pointer (``...:snap``: which blob holds the room as of which log
entry) is written by a fenced script too, which also trims the log entries
the snapshot covers, so the log stays about one snapshot interval long.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from stateline.shards.lease import room_key
from stateline.stores.redis import AsyncRedis

#: Replay reads this many entries per round trip.
REPLAY_BATCH = 500

# KEYS: fence, log. ARGV: token, event JSON. {1, entry id} or {0, current fence}.
_APPEND = """
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence ~= tonumber(ARGV[1]) then
  return {0, fence}
end
return {1, redis.call('XADD', KEYS[2], '*', 't', ARGV[1], 'e', ARGV[2])}
"""

# KEYS: fence, snap, log. ARGV: token, pointer JSON, last entry id.
# 1 if written, 0 if fenced, 2 if the current pointer is as new or newer (kept: a late
# snapshot must never point behind entries a newer one has already trimmed away).
_SNAPSHOT = """
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence ~= tonumber(ARGV[1]) then
  return 0
end
local cur = redis.call('GET', KEYS[2])
if cur then
  local ms, seq = string.match(cur, '"last":"(%d+)-(%d+)"')
  local nms, nseq = string.match(ARGV[3], '^(%d+)-(%d+)$')
  if ms and nms then
    ms, seq, nms, nseq = tonumber(ms), tonumber(seq), tonumber(nms), tonumber(nseq)
    if nms < ms or (nms == ms and nseq <= seq) then
      return 2
    end
  end
end
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[3] ~= '0-0' then
  redis.call('XTRIM', KEYS[3], 'MINID', ARGV[3])
end
return 1
"""


class Fenced(RuntimeError):
    """The room's lease was taken over: this writer's token is stale."""

    def __init__(self, room: str, token: int, fence: int) -> None:
        super().__init__(f"room {room}: token {token} fenced off (current {fence})")
        self.room = room
        self.token = token
        self.fence = fence


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RoomLog:
    """Append to, replay and snapshot-point the log of any room."""

    def __init__(self, redis: AsyncRedis) -> None:
        self.redis = redis

    async def append(self, room: str, token: int, event: dict[str, object]) -> str:
        """Add ``event`` under ``token``; returns its entry id. Raises :class:`Fenced`."""
        answer = await self.redis.eval(_APPEND, 2, room_key(room, "fence"), room_key(room, "log"),
                                       token, orjson.dumps(event))
        if int(answer[0]) != 1:
            raise Fenced(room, token, int(answer[1]))
        return _text(answer[1])

    async def replay(self, room: str, after: str) -> AsyncIterator[tuple[str, dict[str, object]]]:
        """Entries strictly after ``after`` (``"0-0"``: all), oldest first."""
        start = "-" if after == "0-0" else f"({after}"
        key = room_key(room, "log")
        while True:
            batch = await self.redis.xrange(key, min=start, max="+", count=REPLAY_BATCH)
            for entry_id, fields in batch:
                eid = _text(entry_id)
                raw = fields.get(b"e", fields.get("e")) if isinstance(fields, dict) else None
                if raw is not None:
                    yield eid, orjson.loads(raw)
                start = f"({eid}"
            if len(batch) < REPLAY_BATCH:
                return

    async def snapshot_pointer(self, room: str) -> dict[str, str] | None:
        raw = await self.redis.get(room_key(room, "snap"))
        return orjson.loads(raw) if raw else None

    async def set_snapshot_pointer(self, room: str, token: int, blob: str, last: str) -> bool:
        """Point the room at a snapshot blob taken as of entry ``last``.

        False if fenced; True also when a newer snapshot is already in place (kept).
        """
        pointer = orjson.dumps({"blob": blob, "last": last})
        ok = await self.redis.eval(_SNAPSHOT, 3, room_key(room, "fence"), room_key(room, "snap"),
                                   room_key(room, "log"), token, pointer, last)
        return int(ok) != 0
