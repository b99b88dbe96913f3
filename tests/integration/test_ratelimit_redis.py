"""RateLimiter against a real Redis (and a real Redis Cluster): one bucket per client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from stateline.gateway.ratelimit import Decision, RateLimiter
from stateline.stores.redis import AsyncRedis, connect


@pytest.fixture(params=["single", pytest.param("cluster", marks=pytest.mark.slow)])
def store_url(request: pytest.FixtureRequest) -> str:
    name = "redis_url" if request.param == "single" else "redis_cluster_url"
    return str(request.getfixturevalue(name))


def run(store_url: str, body: Callable[[Callable[[], AsyncRedis]], Awaitable[None]]) -> None:
    """Run ``body`` with a factory of fresh clients (one per simulated gateway), then close them."""

    async def main() -> None:
        clients: list[AsyncRedis] = []

        def client() -> AsyncRedis:
            clients.append(connect(store_url))
            return clients[-1]

        try:
            await asyncio.wait_for(body(client), 30)
        finally:
            for c in clients:
                await c.aclose()

    asyncio.run(main())


def client_id() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def test_burst_passes_then_requests_are_refused_with_a_retry_hint(store_url: str) -> None:
    async def body(client: Callable[[], AsyncRedis]) -> None:
        # One token per 100 s: the calls below would need 100 s between them to refill one.
        limiter = RateLimiter(client(), rate_per_s=0.01, burst=5)
        who = client_id()
        decisions = [await limiter.allow(who) for _ in range(6)]
        assert [d.allowed for d in decisions] == [True] * 5 + [False]
        assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
        refused = decisions[5]
        assert refused.remaining == 0
        assert 70 < refused.retry_after_s <= 100.0  # 100 s less the (hang-guarded) time taken

    run(store_url, body)


async def backdate(redis: AsyncRedis, key: str, seconds: float) -> None:
    """Move a bucket's last-seen time (Redis TIME, microseconds) into the past: time passes."""
    ts = int(float(await redis.hget(key, "ts")))
    await redis.hset(key, mapping={"ts": str(ts - int(seconds * 1_000_000))})


def test_tokens_refill_at_the_configured_rate(store_url: str) -> None:
    """One token per 100 s: half of that is not enough, all of it is (time driven, not slept)."""
    async def body(client: Callable[[], AsyncRedis]) -> None:
        redis = client()
        limiter = RateLimiter(redis, rate_per_s=0.01, burst=2)
        who = client_id()
        assert [(await limiter.allow(who)).allowed for _ in range(3)] == [True, True, False]
        await backdate(redis, limiter.key(who), 50)
        half = await limiter.allow(who)
        assert half.allowed is False and 49 < half.retry_after_s <= 50.01
        await backdate(redis, limiter.key(who), 50)
        assert (await limiter.allow(who)).allowed is True

    run(store_url, body)


def test_a_bucket_never_holds_more_than_burst(store_url: str) -> None:
    """However long a bucket was idle, it refills to ``burst`` and no further.

    Time is driven explicitly instead of slept: the bucket's stored timestamp
    (the script's clock reference, Redis ``TIME`` in microseconds) is moved 10 s
    into the past, worth 1,000 tokens at 100/s. The exact check (``remaining``
    right after) does not depend on how long anything took; the bound over the
    calls that follow allows for every token the real elapsed time (measured
    by the same Redis clock, from the bucket's own timestamps) may have added.
    """
    async def body(client: Callable[[], AsyncRedis]) -> None:
        redis = client()
        rate, burst = 100.0, 3
        limiter = RateLimiter(redis, rate_per_s=rate, burst=burst)
        who = client_id()
        key = limiter.key(who)
        await limiter.allow(who)
        await backdate(redis, key, 10)  # 10 s idle: 1,000 tokens' worth
        first = await limiter.allow(who)
        assert first.allowed is True
        assert first.remaining == burst - 1  # capped at burst before this one was taken
        start_us = int(float(await redis.hget(key, "ts")))
        allowed = 0
        for _ in range(8):
            allowed += (await limiter.allow(who)).allowed
        end_us = int(float(await redis.hget(key, "ts")))
        refilled = rate * (end_us - start_us) / 1_000_000
        assert allowed <= (burst - 1) + refilled + 1e-9, (allowed, refilled)

    run(store_url, body)


def test_two_gateways_share_one_budget(store_url: str) -> None:
    async def body(client: Callable[[], AsyncRedis]) -> None:
        gateway_a = RateLimiter(client(), rate_per_s=0.01, burst=10)
        gateway_b = RateLimiter(client(), rate_per_s=0.01, burst=10)
        who = client_id()
        decisions: list[Decision] = []
        for _ in range(10):
            decisions.append(await gateway_a.allow(who))
            decisions.append(await gateway_b.allow(who))
        assert sum(d.allowed for d in decisions) == 10

    run(store_url, body)


def test_concurrent_requests_through_two_gateways_take_exactly_the_burst(store_url: str) -> None:
    async def body(client: Callable[[], AsyncRedis]) -> None:
        limiters = [RateLimiter(client(), rate_per_s=0.01, burst=25) for _ in range(2)]
        who = client_id()
        # Open each client's connections first: redis-py 8.1's async cluster client can
        # fail (AttributeError in send_packed_command) when a burst of commands races
        # its very first connection to a node.
        for limiter in limiters:
            await limiter.allow(client_id())
        decisions = await asyncio.gather(*(limiters[i % 2].allow(who) for i in range(80)))
        assert sum(d.allowed for d in decisions) == 25

    run(store_url, body)


def test_clients_have_separate_buckets(store_url: str) -> None:
    async def body(client: Callable[[], AsyncRedis]) -> None:
        limiter = RateLimiter(client(), rate_per_s=0.01, burst=1)
        alice, bob = client_id(), client_id()
        assert (await limiter.allow(alice)).allowed is True
        assert (await limiter.allow(alice)).allowed is False
        assert (await limiter.allow(bob)).allowed is True

    run(store_url, body)


def test_an_idle_bucket_expires_once_it_would_be_full(store_url: str) -> None:
    async def body(client: Callable[[], AsyncRedis]) -> None:
        redis = client()
        limiter = RateLimiter(redis, rate_per_s=10.0, burst=5)
        who = client_id()
        await limiter.allow(who, cost=5)
        ttl_ms = await redis.pttl(limiter.key(who))
        assert 0 < ttl_ms <= 500 + 1000  # refill time (0.5 s) plus a second of slack

    run(store_url, body)


def test_nonsense_settings_are_refused(redis_url: str) -> None:
    async def body(client: Callable[[], AsyncRedis]) -> None:
        redis = client()
        with pytest.raises(ValueError):
            RateLimiter(redis, rate_per_s=0, burst=1)
        with pytest.raises(ValueError):
            RateLimiter(redis, rate_per_s=1, burst=0)
        with pytest.raises(ValueError):
            await RateLimiter(redis, rate_per_s=1, burst=2).allow("x", cost=3)

    run(redis_url, body)
