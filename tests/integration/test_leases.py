"""Leases renew stream by stream: a shard stream that cannot be reached does not stop the
renewal of the others (on a Cluster, a master in failover holds only some shards)."""

import uuid

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from contracts.keys import GROUP
from tests.support.wait import async_wait_for
from worker.leases import Entry, Leases

pytestmark = pytest.mark.integration


async def _idle_ms(redis: Redis, entry: Entry) -> int:
    [pending] = await redis.xpending_range(entry.stream, GROUP, min=entry.id, max=entry.id, count=1)
    return int(pending["time_since_delivered"])


async def test_a_stream_that_fails_does_not_stop_the_others_renewal(redis_server_url: str) -> None:
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    tag = uuid.uuid4().hex[:8]
    healthy, broken = f"lease{tag}:a", f"lease{tag}:b"
    try:
        await redis.xgroup_create(healthy, GROUP, id="0", mkstream=True)
        entry_id = str(await redis.xadd(healthy, {"f": "1"}))
        await redis.xreadgroup(GROUP, "w1", {healthy: ">"}, count=1)
        await redis.set(broken, "not a stream")  # every command on it is refused
        leases = Leases(redis, "w1", lease_seconds=30)
        leases.hold(Entry(broken, "1-0"), "job-b")  # first: it fails before the healthy one
        leases.hold(Entry(healthy, entry_id), "job-a")

        async def idle_a_while() -> bool:
            return await _idle_ms(redis, Entry(healthy, entry_id)) >= 200

        await async_wait_for(idle_a_while, what="the entry to be idle")
        with pytest.raises(ResponseError):
            await leases.renew()
        assert await _idle_ms(redis, Entry(healthy, entry_id)) < 200  # renewed all the same
    finally:
        await redis.delete(healthy, broken)
        await redis.aclose()
