"""What a pool's autoscaler can read in Redis (infra/k8s/README.md, "How scaling works"):
jobs wait in the shard queues, not in the job streams (`contracts.queue`: `TAKE` moves a job
into its stream and reads it through the group in one step), so the group's lag, which KEDA's
redis-streams `lagCount` reads, stays 0 however many jobs wait, and its pending entries count
only the jobs being run. The edge's `GET /v1/models` `queued` counts both: what the
ScaledObjects scale on. Against a real Redis."""

import uuid

import pytest
from redis.asyncio import Redis

from contracts.jobs import Priority
from contracts.keys import GROUP, Keys
from tests.support.queue import queue_job, take_as
from worker.heartbeat import ensure_groups

pytestmark = pytest.mark.integration

POOL = "p"
PER_SHARD = 3


async def group_of(redis: Redis, stream: str) -> dict[str, object]:
    [group] = [g for g in await redis.xinfo_groups(stream) if g["name"] == GROUP]
    return dict(group)


async def test_waiting_jobs_leave_the_groups_lag_at_zero_and_running_ones_are_pending(
    redis: Redis,
) -> None:
    keys = Keys(f"ss{uuid.uuid4().hex[:10]}:", shards=2)
    await ensure_groups(redis, keys.job_streams(POOL))
    for shard in range(keys.shards):
        for _ in range(PER_SHARD):
            await queue_job(redis, keys, POOL, shard, tokens=1)
    waiting = [
        await redis.zcard(keys.waiting(POOL, shard, priority))
        for shard in range(keys.shards)
        for priority in Priority
    ]
    assert sum(waiting) == PER_SHARD * keys.shards
    for stream in keys.job_streams(POOL):
        group = await group_of(redis, stream)
        assert (group["lag"], group["pending"]) == (0, 0), (stream, group)

    await take_as(redis, keys, POOL, 0, "w1")
    group = await group_of(redis, keys.jobs(POOL, 0))
    assert (group["lag"], group["pending"]) == (0, 1)
