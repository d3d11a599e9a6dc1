"""Prometheus metrics: a real worker process's (`WORKER_METRICS_PORT`), and the edge's pool
gauges, read at each scrape from Redis (`edge.loads`)."""

import pytest
from redis.asyncio import Redis

from relayline.redis_server import free_port
from tests.support.metrics import Samples, sample, samples
from tests.support.queue import queue_job, status
from tests.support.stack import Stack
from tests.support.wait import async_wait_for, wait_for

pytestmark = pytest.mark.integration


async def test_a_worker_exports_its_jobs_engine_time_queue_wait_events_and_tokens(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    jobs = [await queue_job(redis, keys, "sim", shard, tokens=5) for shard in (0, 1, 2)]
    port = free_port()
    worker = stack.worker("sim", env={"WORKER_METRICS_PORT": str(port), "WORKER_CONCURRENCY": "7"})

    async def all_ended() -> bool:
        return all([await status(redis, keys, job_id) == "succeeded" for job_id in jobs])

    await async_wait_for(all_ended, what="the jobs to end")
    url = f"http://127.0.0.1:{port}/metrics"
    pool = {"pool": "sim"}

    def counted() -> Samples | None:
        got = samples(url)
        return (
            got
            if sample(got, "relayline_worker_jobs_total", status="succeeded", **pool) == 3
            else None
        )

    found = wait_for(counted, what="the worker to count its jobs")
    assert found is not None
    assert sample(found, "relayline_worker_engine_seconds_count", **pool) == 3
    assert sample(found, "relayline_worker_engine_seconds_sum", **pool) > 0
    assert sample(found, "relayline_worker_queue_wait_seconds_count", **pool) == 3
    # jobs queued before the worker started waited at least until it took them
    assert sample(found, "relayline_worker_queue_wait_seconds_sum", **pool) > 0
    # each job: job-start, at least one text-delta and a job-end
    assert sample(found, "relayline_worker_events_total", **pool) >= 9
    assert sample(found, "relayline_worker_tokens_total", kind="completion", **pool) == 15
    assert sample(found, "relayline_worker_tokens_total", kind="prompt", **pool) > 0
    assert sample(found, "relayline_worker_slots", **pool) == 7
    assert sample(found, "relayline_worker_running_jobs", **pool) == 0
    assert worker.alive()


async def test_the_edge_exports_each_pools_waiting_and_running_jobs_and_workers(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    edge = stack.edge()
    for shard in (0, 3, 5):
        await queue_job(redis, keys, "slow", shard, tokens=400)
    url = f"{edge.url}/metrics"
    found = samples(url)
    assert sample(found, "relayline_pool_jobs", pool="slow", state="waiting_interactive") == 3
    assert sample(found, "relayline_pool_jobs", pool="slow", state="running") == 0
    assert sample(found, "relayline_pool_workers", pool="slow") == 0

    stack.worker("slow", env={"WORKER_CONCURRENCY": "2"})

    def two_running() -> bool:
        now = samples(url)
        return (
            sample(now, "relayline_pool_jobs", pool="slow", state="running") == 2
            and sample(now, "relayline_pool_jobs", pool="slow", state="waiting_interactive") == 1
            and sample(now, "relayline_pool_workers", pool="slow") == 1
        )

    wait_for(two_running, what="two jobs running, one waiting, one worker")
