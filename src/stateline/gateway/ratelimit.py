"""A token bucket per client, kept in Redis, so N gateway replicas enforce one limit.

The seed's lesson applied to the gateway itself: a limiter that counts in
process memory gives each of N replicas its own bucket, so a client gets N
times the limit, and a different share depending on which replica the load
balancer in front happens to pick. Keeping the bucket in the stateful tier
makes the gateways interchangeable again.

One Lua script does the whole read-refill-take-write step atomically, and it
reads the time from Redis (``TIME``), not from the gateway: replicas whose
clocks disagree still refill one bucket at one rate. Redis 5+ replicates the
script's effects rather than the script, so a non-deterministic ``TIME`` before
a write is allowed. Each bucket is one small hash that expires once it would be
full again, so idle clients cost no memory. Each client's key lives in one slot,
so the script also runs on a Redis Cluster.

Errors from Redis propagate: the caller decides whether to fail open (serve
without limiting) or closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from stateline.stores.redis import AsyncRedis

# KEYS[1] bucket; ARGV: rate (tokens/s), burst, cost. Returns {allowed, remaining, retry_after}.
_TOKEN_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate / 1000000)
local allowed = 0
local retry_after = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_after = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, math.floor(tokens), tostring(retry_after)}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """The limiter's answer: may this request pass, what is left, and when to come back."""

    allowed: bool
    remaining: int
    retry_after_s: float


class RateLimiter:
    """``rate_per_s`` requests per second per client, with bursts of up to ``burst``."""

    def __init__(self, redis: AsyncRedis, rate_per_s: float, burst: int,
                 prefix: str = "stateline:rl") -> None:
        if not rate_per_s > 0:
            raise ValueError("rate_per_s must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = int(burst)
        self.prefix = prefix
        self._redis = redis
        self._script = redis.register_script(_TOKEN_BUCKET)

    def key(self, client: str) -> str:
        """The Redis key of ``client``'s bucket."""
        return f"{self.prefix}:{client}"

    async def allow(self, client: str, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from ``client``'s bucket if it has them."""
        if cost < 1 or cost > self.burst:
            raise ValueError(f"cost must be within 1..burst ({self.burst})")
        allowed, remaining, retry_after = await self._script(
            keys=[self.key(client)], args=[repr(self.rate_per_s), self.burst, cost]
        )
        return Decision(bool(int(allowed)), int(remaining), float(retry_after))
