"""`TAKE` given a worker begins the attempt of each job it reads, as `START` would, in the same
script, and takes several jobs at once as as many takes one after the other would
(contracts.queue, contracts.log): fewer round trips per job. Against a real Redis."""

import time
import uuid

import pytest
from redis.asyncio import Redis

from contracts.eventlog import Started
from contracts.jobs import JobEnvelope
from contracts.keys import Keys
from contracts.log import AppendResult
from contracts.queue import PoolQueues
from tests.support.queue import events, queue_job, status
from tests.support.runner import ScriptedEngine, scripted_runner
from worker.heartbeat import ensure_groups

pytestmark = pytest.mark.integration

POOL = "p"


@pytest.fixture
async def keys(redis: Redis) -> Keys:
    keys = Keys(f"ts{uuid.uuid4().hex[:10]}:", shards=2)
    await ensure_groups(redis, keys.job_streams(POOL))
    return keys


def queues(redis: Redis, keys: Keys) -> PoolQueues:
    return PoolQueues(redis, keys, POOL, batch_aging=30)


async def test_a_take_by_a_worker_begins_the_attempt_of_the_job_it_reads(
    redis: Redis, keys: Keys
) -> None:
    job_id = await queue_job(redis, keys, POOL, 1, tokens=3)
    now = time.time()
    taken = await queues(redis, keys).take(1, consumer="w1", now=now, worker="w1")
    created = float(await redis.hget(keys.job(job_id), "created_at") or 0)
    assert created > 0
    assert [job.started for job in taken.jobs] == [
        Started(AppendResult.ok, 1, seq=2, steps=1, created_at=created)
    ]
    record = await redis.hgetall(keys.job(job_id))
    assert (record["status"], record["worker"], record["attempt"]) == ("running", "w1", "1")
    assert float(record["started_at"]) == now
    log = await events(redis, keys, job_id)
    assert [event["type"] for event in log] == ["job-queued", "job-start"]
    start = log[1]
    assert (start["seq"], start["attempt"], start["worker"], start["job_id"]) == (
        2,
        1,
        "w1",
        job_id,
    )
    assert start["ts"] == now


async def test_a_take_without_a_worker_leaves_the_start_to_the_worker(
    redis: Redis, keys: Keys
) -> None:
    job_id = await queue_job(redis, keys, POOL, 0, tokens=3)
    taken = await queues(redis, keys).take(0, consumer="w1", now=time.time())
    assert [job.started for job in taken.jobs] == [None]
    assert await status(redis, keys, job_id) == "queued"
    assert [event["type"] for event in await events(redis, keys, job_id)] == ["job-queued"]


async def test_a_take_that_finds_nothing_begins_nothing(redis: Redis, keys: Keys) -> None:
    taken = await queues(redis, keys).take(0, consumer="w1", now=time.time(), worker="w1")
    assert taken.jobs == []


async def test_a_job_its_take_began_runs_with_that_attempt_and_starts_once(
    redis: Redis, keys: Keys
) -> None:
    job_id = await queue_job(redis, keys, POOL, 1, tokens=3)
    taken = await queues(redis, keys).take(1, consumer="w1", now=time.time(), worker="w1")
    [job] = taken.jobs
    runner = scripted_runner(redis, keys, ScriptedEngine(3))
    envelope = JobEnvelope.model_validate_json(job.envelope)
    assert await runner.run(envelope, job.entry_id, job.started) is True
    log = await events(redis, keys, job_id)
    assert [event["type"] for event in log] == [
        "job-queued",
        "job-start",
        "text-delta",
        "text-delta",
        "text-delta",
        "job-end",
    ]
    assert [event["seq"] for event in log] == list(range(1, 7))
    assert {event.get("attempt") for event in log[1:2]} == {1}
    assert await redis.hget(keys.job(job_id), "attempt") == "1"
    assert log[-1]["status"] == "succeeded"


async def test_a_take_of_several_takes_them_in_queue_order_and_begins_each(
    redis: Redis, keys: Keys
) -> None:
    """Three accounts with two jobs each: a take of 4 gets the jobs four takes of one would
    (each account's first, then a second one: jobs that tie are taken in id order), and
    begins all four."""
    owners = [f"acct-{n}" for n in range(40) if keys.shard_of_user(f"acct-{n}") == 0][:3]
    ids = {
        owner: [await queue_job(redis, keys, POOL, 0, tokens=1, owner=owner) for _ in range(2)]
        for owner in owners
    }
    taken = await queues(redis, keys).take(0, consumer="w1", now=time.time(), count=4, worker="w1")
    got = [JobEnvelope.model_validate_json(job.envelope).id for job in taken.jobs]
    firsts, seconds = {ids[owner][0] for owner in owners}, {ids[owner][1] for owner in owners}
    assert set(got[:3]) == firsts and got[3] in seconds
    assert [(job.started.result, job.started.attempt) for job in taken.jobs if job.started] == [
        (AppendResult.ok, 1)
    ] * 4
    assert (taken.waiting.interactive, taken.waiting.batch) == (2, 0)
    for job_id in got:
        assert await status(redis, keys, job_id) == "running"
    # the rest: a take of more than waits gets what waits, and says nothing is left
    rest = await queues(redis, keys).take(0, consumer="w1", now=time.time(), count=16, worker="w1")
    assert {JobEnvelope.model_validate_json(job.envelope).id for job in rest.jobs} == (
        seconds - {got[3]}
    )
    assert (rest.waiting.interactive, rest.waiting.batch) == (0, 0)


async def test_a_take_of_several_skips_jobs_that_ended_while_waiting(
    redis: Redis, keys: Keys
) -> None:
    ids = [await queue_job(redis, keys, POOL, 1, tokens=1, owner="solo") for _ in range(5)]
    for job_id in ids[:3]:  # ended without leaving the queue (as a crash mid-cancel could)
        await redis.hset(keys.job(job_id), "status", "cancelled")
    taken = await queues(redis, keys).take(1, consumer="w1", now=time.time(), count=2, worker="w1")
    assert [JobEnvelope.model_validate_json(job.envelope).id for job in taken.jobs] == ids[3:]
