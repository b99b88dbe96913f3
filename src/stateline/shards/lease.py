"""Room leases in Redis, with fencing tokens: the rules of ``ownership.py`` as Lua.

Every key of one room carries the room id as its hash tag
(``stateline:room:{<room>}:...``), so in a Redis Cluster they share one slot
and each script below runs atomically on the one master that owns it. The
lease value is ``"<holder>|<token>"`` with a ``PX`` expiry kept by Redis
itself; the fencing counter is a plain integer that only ``INCR`` touches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from stateline.shards.ownership import Holding, holding_after, shard_of
from stateline.stores.redis import AsyncRedis

#: How long a lease lasts without renewal; a SIGKILLed shard's rooms wait at most this.
DEFAULT_TTL_S = 3.0
#: The local view ends this much before the store's expiry (clock drift, a slow reply).
DEFAULT_MARGIN_S = 0.5


def room_key(room: str, part: str) -> str:
    """``stateline:room:{room}:part``: one hash slot per room."""
    return f"stateline:room:{{{room}}}:{part}"


# KEYS: lease, fence. ARGV: holder, ttl_ms, holder's shard id.
# Returns {1, token} when granted (or kept), {0, holder, pttl} when held by another shard.
_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local h, t = string.match(cur, '^(.*)|(%d+)$')
  if h == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tonumber(t)}
  end
  local shard = string.match(h, '^([^/]*)')
  if shard ~= ARGV[3] then
    return {0, h, redis.call('PTTL', KEYS[1])}
  end
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return {1, token}
"""

# KEYS: lease. ARGV: "holder|token", ttl_ms. 1 if extended, 0 if the lease is gone or another's.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease. ARGV: "holder|token". 1 if released, 0 if it was not ours any more.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Refused:
    """The lease is held by another shard."""

    holder: str
    remaining_s: float


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Leases:
    """Acquire, renew and release room leases for one shard incarnation."""

    def __init__(self, redis: AsyncRedis, holder: str, ttl_s: float = DEFAULT_TTL_S,
                 margin_s: float = DEFAULT_MARGIN_S) -> None:
        if not 0 <= margin_s < ttl_s:
            raise ValueError("margin_s must be >= 0 and below ttl_s")
        self.redis = redis
        self.holder = holder
        self.shard = shard_of(holder)
        self.ttl_s = ttl_s
        self.margin_s = margin_s
        self._ttl_ms = max(1, int(ttl_s * 1000))

    async def acquire(self, room: str) -> Holding | Refused:
        sent_at = time.monotonic()
        answer = await self.redis.eval(_ACQUIRE, 2, room_key(room, "lease"),
                                       room_key(room, "fence"), self.holder, self._ttl_ms,
                                       self.shard)
        if int(answer[0]) == 1:
            return holding_after(int(answer[1]), sent_at, self.ttl_s, self.margin_s)
        return Refused(_text(answer[1]), max(0, int(answer[2])) / 1000)

    async def renew(self, room: str, token: int) -> Holding | None:
        """The extended holding, or ``None`` when the lease was lost."""
        sent_at = time.monotonic()
        ok = await self.redis.eval(_RENEW, 1, room_key(room, "lease"),
                                   f"{self.holder}|{token}", self._ttl_ms)
        return holding_after(token, sent_at, self.ttl_s, self.margin_s) if int(ok) else None

    async def release(self, room: str, token: int) -> bool:
        ok = await self.redis.eval(_RELEASE, 1, room_key(room, "lease"), f"{self.holder}|{token}")
        return bool(int(ok))
