"""The request bucket itself, in process against the session's real Redis: its arithmetic,
its headers, and that it fails open when Redis does not answer."""

import time
import uuid

import pytest
from redis.asyncio import Redis

from contracts.gcra import Bucket
from contracts.keys import Keys
from edge.guards import tiers_of
from edge.ratelimit import RateLimiter, client_address, duration
from edge.settings import Settings
from relayline.redis_server import free_port
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


async def test_a_burst_then_refusals_with_the_time_to_wait(redis_server_url: str) -> None:
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    keys = Keys(f"t{uuid.uuid4().hex[:12]}:")
    limiter = RateLimiter(redis, keys)
    try:
        decisions = [await limiter.take(keys.rate_user("u"), Bucket(0.01, 5)) for _ in range(7)]
        assert [d.allowed for d in decisions if d] == [True] * 5 + [False] * 2
        assert [d.remaining for d in decisions if d] == [4, 3, 2, 1, 0, 0, 0]
        refused = decisions[-1]
        assert refused is not None
        assert 90_000 < refused.retry_after_ms <= 100_000  # one token per 100 s
        assert 91 <= refused.retry_after() <= 100
        assert 490_000 < refused.reset_ms <= 500_000  # five tokens until full
        assert refused.openai_headers()["x-ratelimit-limit-requests"] == "5"
        other = await limiter.take(keys.rate_user("v"), Bucket(0.01, 5))  # a bucket per user
        assert other is not None and other.allowed
        ttl = await redis.pttl(keys.rate_user("u"))
        assert 0 < ttl <= 500_000  # the key goes away once the bucket would be full
    finally:
        await redis.aclose()


async def test_a_bucket_faster_than_one_token_a_millisecond_keeps_its_rate(
    redis_server_url: str,
) -> None:
    """A million tokens a second is an interval of a microsecond: kept to the millisecond,
    every take moved the bucket a whole millisecond on, and it refused at 1,000 a second."""
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    keys = Keys(f"t{uuid.uuid4().hex[:12]}:")
    limiter = RateLimiter(redis, keys)
    try:
        decisions = [
            await limiter.take(keys.rate_user("u"), Bucket(1_000_000, 10)) for _ in range(200)
        ]
        assert all(d is not None and d.allowed for d in decisions)
    finally:
        await redis.aclose()


async def test_redis_down_fails_open_at_once() -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    limiter = RateLimiter(redis, Keys("t:"))
    started = time.monotonic()
    try:
        assert await limiter.take("t:rate:user:u", Bucket(20, 100)) is None
    finally:
        await redis.aclose()
    assert time.monotonic() - started < 5


def test_user_tiers_name_known_tiers() -> None:
    table = tiers_of(Settings(user_tiers="svc:a:b:service, guest-x:service"))
    assert table.tier_for("svc:a:b").burst == 5000  # a user id may hold ':'
    assert table.tier_for("guest-x").burst == 30  # a guest is a guest
    assert table.tier_for("alice").burst == 100
    with pytest.raises(ValueError, match="EDGE_USER_TIERS"):
        tiers_of(Settings(user_tiers="svc:gold"))


def test_durations_and_addresses() -> None:
    assert [duration(ms) for ms in (0, 20, 1500, 60_000, 360_500)] == [
        "0ms",
        "20ms",
        "1.5s",
        "1m0s",
        "6m0s",
    ]
    assert client_address(("2001:db8:1:2:3:4:5:6", 1)) == "2001:db8:1:2::/64"
    assert client_address(("::ffff:10.0.0.1", 1)) == "10.0.0.1"
    assert client_address(("10.0.0.1", 1)) == "10.0.0.1"
    assert client_address(None) == "unknown"


async def test_a_refusal_is_remembered_until_the_bucket_allows_one_more(
    redis_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    keys = Keys(f"t{uuid.uuid4().hex[:8]}:")
    limiter = RateLimiter(redis, keys)
    try:
        fast = Bucket(20, 1)  # one token, then one per 50 ms
        assert (await limiter.take(keys.rate_user("u"), fast)).allowed  # type: ignore[union-attr]
        refused = await limiter.take(keys.rate_user("u"), fast)
        assert refused is not None and not refused.allowed
        assert limiter.refusal(keys.rate_user("u")) is not None  # known, without Redis
        await redis.delete(keys.rate_user("u"))  # even were the bucket full again
        assert limiter.refusal(keys.rate_user("u")) is not None
        wait_for(lambda: limiter.refusal(keys.rate_user("u")) is None, timeout=5)
        assert (await limiter.take(keys.rate_user("u"), fast)).allowed  # type: ignore[union-attr]

        # Many users refused at once: the limiter remembers a bounded number, the newest.
        monkeypatch.setattr("edge.ratelimit.REMEMBERED_REFUSALS", 10)
        slow = Bucket(0.01, 1)
        for n in range(30):
            await limiter.take(keys.rate_user(f"v{n}"), slow)
            await limiter.take(keys.rate_user(f"v{n}"), slow)
        remembered = [n for n in range(30) if limiter.refusal(keys.rate_user(f"v{n}"))]
        assert remembered == list(range(20, 30))
    finally:
        await redis.aclose()
