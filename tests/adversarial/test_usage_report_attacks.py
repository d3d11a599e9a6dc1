"""An operator's `GET /v1/usage?all=true&days=400` over a deployment with many accounts, in
process against a real Redis: the report reads the daily sets of charged accounts only as
far back as its page goes. It read every day's accounts of every shard first (400 days of
10 000 guests a day: 4 million pairs in the edge's memory) and then cut the list."""

import time
import uuid

import pytest
from redis.asyncio import Redis

from contracts.keys import Keys
from contracts.usage import USAGE_RETENTION_DAYS, recent_days
from edge.tiers import DEFAULT_TIER, TierTable
from edge.usage import MAX_REPORT_ENTRIES, Quotas

pytestmark = pytest.mark.integration


async def smembers_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_smembers", {}).get("calls", 0))


async def test_everyones_usage_reads_only_the_days_its_page_holds(redis: Redis) -> None:
    keys = Keys(f"ua{uuid.uuid4().hex[:10]}:")
    days = recent_days(time.time(), USAGE_RETENTION_DAYS)
    per_day = MAX_REPORT_ENTRIES // 2 + 1  # the page is full within the two newest days
    async with redis.pipeline(transaction=False) as pipe:
        for index, day in enumerate(days):
            accounts = [f"guest-{n:012x}" for n in range(per_day if index < 2 else 3)]
            pipe.sadd(keys.usage_accounts(index % keys.shards, day), *accounts)
        await pipe.execute()
    quotas = Quotas(redis, keys, TierTable(DEFAULT_TIER, DEFAULT_TIER, {}, ""), 86400)
    before = await smembers_calls(redis)
    report = await quotas.report("carol", USAGE_RETENTION_DAYS, everyone=True)
    read = await smembers_calls(redis) - before
    assert report.truncated
    assert read <= 2 * keys.shards, f"read the accounts of {read} (day, shard) sets"
    await redis.delete(*[keys.usage_accounts(i % keys.shards, d) for i, d in enumerate(days)])
