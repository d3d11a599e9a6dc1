"""Workers read every shard stream of their pool and take only what they can run: real Redis,
real worker processes, jobs queued straight into chosen shards (`tests.support.queue`)."""

import asyncio
import signal
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from contracts.keys import Keys
from tests.support.queue import events, pending_by_consumer, queue_job, status
from tests.support.stack import Stack
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration

QUICK_RECOVERY = {"WORKER_LEASE_SECONDS": "2", "WORKER_REAPER_INTERVAL_SECONDS": "0.3"}


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def ended(redis: Redis, keys: Keys, job_ids: list[str]) -> bool:
    statuses = [await status(redis, keys, job_id) for job_id in job_ids]
    return all(value in ("succeeded", "failed", "cancelled") for value in statuses)


async def assert_ran_once(redis: Redis, keys: Keys, job_id: str) -> None:
    """Succeeded in one attempt: one `job-start`, no `job-reset`."""
    log = await events(redis, keys, job_id)
    kinds = [event["type"] for event in log]
    assert kinds.count("job-start") == 1 and "job-reset" not in kinds, (job_id, kinds)
    assert log[-1]["type"] == "job-end" and log[-1]["status"] == "succeeded", log[-1]
    assert await redis.hget(keys.job(job_id), "attempt") == "1"


async def test_a_busy_worker_holds_no_more_entries_than_its_concurrency(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    worker = stack.worker("slow", env={"WORKER_CONCURRENCY": "1"})
    long_job = await queue_job(redis, keys, "slow", 0, tokens=60)

    async def long_job_running() -> bool:
        return await status(redis, keys, long_job) == "running"

    await async_wait_for(long_job_running, what="the long job to run")
    # Queued while the only slot is busy: two in shard 3, one in each of six other shards.
    shards = [1, 2, 3, 3, 4, 5, 6, 7]
    others = [await queue_job(redis, keys, "slow", shard, tokens=3) for shard in shards]
    jobs = [long_job, *others]

    most = 0

    async def settled() -> bool:
        nonlocal most
        held = await pending_by_consumer(redis, keys, "slow")
        most = max(most, sum(held.values()))
        return await ended(redis, keys, jobs)

    await async_wait_for(settled, timeout=60, what="every job to end")
    assert most <= 1, f"the worker held {most} entries for its one slot"
    assert set((await pending_by_consumer(redis, keys, "slow")).values()) <= {0}
    for job_id in jobs:
        await assert_ran_once(redis, keys, job_id)
    assert worker.alive()


async def test_two_workers_run_jobs_of_every_shard_once_without_waiting_out_a_lease(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    # A 2 s lease and 1.5 s jobs: an entry one worker held while busy with another job would
    # idle past the lease, be taken over by the other worker, and run twice.
    env = {**QUICK_RECOVERY, "WORKER_CONCURRENCY": "1"}
    workers = [stack.worker("slow", env=env), stack.worker("slow", env=env)]
    jobs = [await queue_job(redis, keys, "slow", shard % 8, tokens=30) for shard in range(10)]

    await async_wait_for(lambda: ended(redis, keys, jobs), timeout=90, what="every job to end")
    for job_id in jobs:
        await assert_ran_once(redis, keys, job_id)
    ran_on = {
        event["worker"]
        for job_id in jobs
        for event in await events(redis, keys, job_id)
        if event["type"] == "job-start"
    }
    assert ran_on == {worker.worker_id for worker in workers}
    assert set((await pending_by_consumer(redis, keys, "slow")).values()) <= {0}


async def test_sigterm_hands_a_job_of_any_shard_back_without_waiting_for_the_lease(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    env = {"WORKER_LEASE_SECONDS": "60", "WORKER_SHUTDOWN_GRACE_SECONDS": "0.5"}
    leaving = stack.worker("slow", env=env)
    job_id = await queue_job(redis, keys, "slow", 6, tokens=100)

    async def running_on(worker_id: str) -> bool:
        record = await redis.hmget(keys.job(job_id), ["status", "worker"])
        return record == ["running", worker_id]

    await async_wait_for(lambda: running_on(leaving.worker_id), what="the job to start")
    staying = stack.worker("slow", env=env)
    leaving.signal(signal.SIGTERM)

    # Taken over long before the 60 s lease could run out.
    await async_wait_for(lambda: running_on(staying.worker_id), what="the other worker")
    await asyncio.to_thread(leaving.popen.wait, 20)
    assert leaving.popen.returncode == 0
    await async_wait_for(lambda: ended(redis, keys, [job_id]), timeout=60, what="the job's end")
    log = await events(redis, keys, job_id)
    kinds = [event["type"] for event in log if event["type"] in ("job-start", "job-reset")]
    assert kinds == ["job-start", "job-reset", "job-start"]
    assert log[-1]["status"] == "succeeded"
    assert set((await pending_by_consumer(redis, keys, "slow")).values()) <= {0}


async def test_vanished_groups_of_every_shard_stream_are_recreated_and_the_worker_goes_on(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    worker = stack.worker("sim")
    await redis.delete(*keys.job_streams("sim"))  # every stream and its group are gone

    async def groups_back() -> bool:
        for stream in keys.job_streams("sim"):
            if not await redis.exists(stream) or not await redis.xinfo_groups(stream):
                return False
        return True

    await async_wait_for(groups_back, what="the heartbeat to recreate every group")
    jobs = [await queue_job(redis, keys, "sim", shard, tokens=3) for shard in (0, 3, 7)]
    await async_wait_for(lambda: ended(redis, keys, jobs), timeout=60, what="every job to end")
    for job_id in jobs:
        await assert_ran_once(redis, keys, job_id)
    assert worker.alive()


async def test_a_job_longer_than_its_lease_keeps_it_on_any_shard(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    env = {"WORKER_LEASE_SECONDS": "1", "WORKER_REAPER_INTERVAL_SECONDS": "0.2"}
    stack.worker("slow", env=env)
    job_id = await queue_job(redis, keys, "slow", 5, tokens=60)  # 3 s, three leases
    stack.worker("slow", env=env)  # would take the job over if its lease lapsed
    await async_wait_for(lambda: ended(redis, keys, [job_id]), timeout=60, what="the job's end")
    await assert_ran_once(redis, keys, job_id)


async def test_a_worker_set_to_another_shard_count_stops_with_the_setting_to_change(
    stack: Stack, redis: Redis
) -> None:
    await redis.set(stack.keys.layout(), str(stack.keys.shards))  # an 8-shard deployment
    worker = stack.worker("sim", env={"WORKER_SHARDS": "4"}, wait=False)
    await asyncio.to_thread(worker.popen.wait, 60)
    assert worker.popen.returncode == 1
    log = worker.log()
    assert f"set WORKER_SHARDS={stack.keys.shards}" in log
    assert "Traceback" not in log
    assert not await redis.exists(*Keys(stack.prefix, 4).job_streams("sim"))  # touched nothing


async def test_a_dead_workers_job_is_taken_over_ahead_of_a_backlog(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    env = {
        "WORKER_CONCURRENCY": "1",
        "WORKER_LEASE_SECONDS": "1",
        "WORKER_REAPER_INTERVAL_SECONDS": "0.2",
    }
    dying = stack.worker("slow", env=env)
    lost = await queue_job(redis, keys, "slow", 2, tokens=20)
    await async_wait_for(lambda: _status_is(redis, keys, lost, "running"), what="it to run")
    dying.kill()  # kill -9: its lease runs out 1 s after its last renewal
    backlog = [await queue_job(redis, keys, "slow", 2, tokens=10) for _ in range(10)]
    stack.worker("slow", env=env)  # its one slot always has a backlog job to take

    await async_wait_for(lambda: ended(redis, keys, [lost, *backlog]), timeout=60, what="all")
    starts = {job_id: await _last_start(redis, keys, job_id) for job_id in [lost, *backlog]}
    after = [job_id for job_id in backlog if starts[job_id] > starts[lost]]
    assert len(after) >= 5, f"the lost job ran again after {10 - len(after)} of the backlog's 10"


async def _status_is(redis: Redis, keys: Keys, job_id: str, wanted: str) -> bool:
    return await status(redis, keys, job_id) == wanted


async def _last_start(redis: Redis, keys: Keys, job_id: str) -> float:
    starts = [e["ts"] for e in await events(redis, keys, job_id) if e["type"] == "job-start"]
    return float(starts[-1])


async def test_a_backlog_in_one_shard_starts_several_jobs_per_take(
    stack: Stack, redis: Redis
) -> None:
    """32 jobs queued in one shard before the worker starts, 32 slots: the reader's first
    take finds the backlog, and the next ones take up to 16 jobs each. Jobs one take began
    share its `started_at`, so 32 jobs started in a few takes (3 on a quiet machine: 1, 16,
    15; a reader that finds another claim waiting takes fewer at once), not 32."""
    keys = stack.keys
    jobs = [await queue_job(redis, keys, "sim", 2, tokens=2) for _ in range(32)]
    stack.worker("sim", env={"WORKER_CONCURRENCY": "32"})
    await async_wait_for(lambda: ended(redis, keys, jobs), timeout=60, what="every job to end")
    for job_id in jobs:
        await assert_ran_once(redis, keys, job_id)
    takes = {await redis.hget(keys.job(job_id), "started_at") for job_id in jobs}
    assert len(takes) <= 8, f"{len(takes)} takes for 32 jobs"
