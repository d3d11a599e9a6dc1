"""The reaper in process against the session Redis: it sweeps every shard stream of its pool,
claims only under free slots, and dead-letters into the job's own shard."""

import asyncio
import json
import uuid
from typing import cast

import pytest
from redis.asyncio import Redis

from contracts.eventlog import Started
from contracts.jobs import JobEnvelope
from contracts.keys import GROUP, Keys
from tests.support.queue import queue_job, status, take_as
from tests.support.wait import async_wait_for
from worker.heartbeat import ensure_groups
from worker.leases import Entry, Leases, deliveries
from worker.reaper import Reaper
from worker.slots import Slots

pytestmark = pytest.mark.integration

POOL = "sim"
SHARD = 5


@pytest.fixture
def keys() -> Keys:
    return Keys(f"t{uuid.uuid4().hex[:12]}:")


async def abandoned_entry(redis: Redis, keys: Keys, deliveries: int) -> tuple[str, Entry]:
    """A job in shard `SHARD` delivered to a worker that died: pending, idle past any lease,
    delivered `deliveries` times."""
    await ensure_groups(redis, keys.job_streams(POOL))
    job_id = await queue_job(redis, keys, POOL, SHARD, tokens=3)
    stream = keys.jobs(POOL, SHARD)
    message_id = await take_as(redis, keys, POOL, SHARD, "dead-worker")
    await redis.xclaim(
        stream, GROUP, "dead-worker", 0, [message_id], idle=60_000, retrycount=deliveries
    )
    return job_id, Entry(stream, message_id)


class Claimed:
    def __init__(self) -> None:
        self.runs: list[tuple[Entry, JobEnvelope]] = []

    async def __call__(
        self, entry: Entry, envelope: JobEnvelope, started: Started | None = None
    ) -> None:
        assert started is None  # the reaper begins no attempt: the run does
        self.runs.append((entry, envelope))


def reaper(
    redis: Redis, keys: Keys, slots: Slots, run: Claimed, leases: Leases | None = None
) -> Reaper:
    return Reaper(
        redis,
        keys,
        POOL,
        "reaper-worker",
        run,
        slots=slots,
        leases=leases or Leases(redis, "reaper-worker", lease_seconds=1),
        lease_seconds=1,
        max_deliveries=3,
        retention_seconds=60,
    )


async def consumers(redis: Redis, entry: Entry) -> list[str]:
    pending = await redis.xpending_range(entry.stream, GROUP, min="-", max="+", count=10)
    return [str(item["consumer"]) for item in pending]


async def test_the_reaper_claims_from_a_shard_stream_other_than_the_first(
    redis: Redis, keys: Keys
) -> None:
    job_id, entry = await abandoned_entry(redis, keys, deliveries=1)
    run = Claimed()
    slots = Slots(1)

    sweeper = reaper(redis, keys, slots, run)
    assert await sweeper.sweep() == 1
    assert slots.free == 0  # the claimed job runs under the one slot
    await asyncio.gather(*sweeper.tasks)

    assert [(claimed, envelope.id) for claimed, envelope in run.runs] == [(entry, job_id)]
    assert await consumers(redis, entry) == ["reaper-worker"]
    assert slots.free == 1


async def test_the_reaper_claims_only_under_a_slot_and_gets_the_next_one_first(
    redis: Redis, keys: Keys
) -> None:
    _, entry = await abandoned_entry(redis, keys, deliveries=1)
    run = Claimed()
    slots = Slots(1)
    assert slots.try_take()  # a shard reader runs a job
    sweeping = asyncio.create_task(reaper(redis, keys, slots, run).sweep())

    async def waits_for_the_slot() -> bool:
        return bool(slots._first)

    await async_wait_for(waits_for_the_slot, what="the reaper to wait for a slot")
    assert run.runs == []  # nothing claimed while every slot is busy
    assert await consumers(redis, entry) == ["dead-worker"]
    slots.release()  # the reader's job ended: the slot goes to the reaper first
    assert await asyncio.wait_for(sweeping, 10) == 1

    async def ran() -> bool:
        return bool(run.runs)

    await async_wait_for(ran, what="the claimed job to run")
    assert [claimed.id for claimed, _ in run.runs] == [entry.id]


async def test_the_reaper_dead_letters_into_the_jobs_own_shard(redis: Redis, keys: Keys) -> None:
    job_id, entry = await abandoned_entry(redis, keys, deliveries=3)
    run = Claimed()
    slots = Slots(1)

    assert await reaper(redis, keys, slots, run).sweep() == 1

    assert run.runs == []
    assert slots.free == 1
    dead = cast(list[tuple[str, dict[str, str]]], await redis.xrange(keys.dead(POOL, SHARD)))
    assert [(fields["job_id"], fields["message_id"]) for _, fields in dead] == [(job_id, entry.id)]
    assert int(dead[0][1]["deliveries"]) == 4
    for shard in range(keys.shards):
        if shard != SHARD:
            assert await redis.xlen(keys.dead(POOL, shard)) == 0
    assert await consumers(redis, entry) == []
    assert await status(redis, keys, job_id) == "failed"
    error = json.loads(await redis.hget(keys.job(job_id), "error") or "null")
    assert error["code"] == "dead_lettered"
    assert keys.dead(POOL, SHARD) in error["message"]


async def test_the_reaper_leaves_a_job_this_worker_runs_to_its_run(
    redis: Redis, keys: Keys
) -> None:
    """Redis unreachable past the lease (a failover) lapses the renewal of a job this worker
    runs: its own reaper must not run it a second time, which would fence the first run, drop
    the lease as that run unwinds, and hand the job to another worker, delivery after delivery,
    until it is dead-lettered."""
    _, entry = await abandoned_entry(redis, keys, deliveries=2)
    leases = Leases(redis, "reaper-worker", lease_seconds=1)
    held, done = asyncio.Event(), asyncio.Event()

    async def first_run() -> None:
        leases.hold(entry, "the job")
        held.set()
        await done.wait()
        leases.release(entry)

    holder = asyncio.create_task(first_run())
    await held.wait()
    run, slots = Claimed(), Slots(1)
    assert await reaper(redis, keys, slots, run, leases).sweep() == 1  # idle past the lease
    assert run.runs == [] and slots.free == 1  # yet not run again
    assert await deliveries(redis, entry) == 2  # and its claim not counted as a delivery
    assert await consumers(redis, entry) == ["reaper-worker"]

    leases.release(entry)  # another task's run of it ending (say, fenced out)
    assert leases.holds(entry)  # leaves the lease of the run that goes on
    done.set()
    await holder
    assert not leases.holds(entry)
