"""Jobs queued straight into a pool's shard queues with `EventLog.submit`, as the edge queues
them, and taken as a worker takes them, for worker tests that choose the shard a job lands in
and need no edge."""

import itertools
import json
import time
from typing import Any, cast

from redis.asyncio import Redis

from contracts.eventlog import Admission, EventLog, JobRef
from contracts.jobs import JobEnvelope
from contracts.keys import GROUP, Keys
from contracts.queue import PoolQueues

ROOMY = Admission(queue_cap=10_000, max_active=10_000, budget=1 << 40, hold=1 << 20, drain_rate=1e6)


def owner_in(keys: Keys, shard: int) -> str:
    """A user whose jobs land in `shard`."""
    return next(user for n in itertools.count() if keys.shard_of_user(user := f"user-{n}") == shard)


async def queue_job(
    redis: Redis,
    keys: Keys,
    pool: str,
    shard: int,
    *,
    tokens: int,
    prompt: str = "go",
    owner: str | None = None,
) -> str:
    """Queue a chat job of `tokens` tokens in `shard`'s queue of `pool` (or in `owner`'s
    shard's); its id."""
    owner = owner or owner_in(keys, shard)
    job_id = keys.new_job_id(owner)
    envelope = JobEnvelope(
        id=job_id,
        owner=owner,
        model=pool,
        input={"messages": [{"role": "user", "content": prompt}]},
        params={"max_tokens": tokens},
    )
    answer = await EventLog(redis, keys, 600).submit(
        JobRef(job_id, pool, owner),
        now=time.time(),
        envelope=envelope.model_dump_json(),
        admission=ROOMY,
        idempotency_key=None,
        idempotency_ttl=60,
        log_ttl=600,
        listing_horizon=3600,
    )
    assert answer.job_id == job_id, answer
    return job_id


async def take_as(redis: Redis, keys: Keys, pool: str, shard: int, consumer: str) -> str:
    """Take the next job of a shard's queue into `consumer`'s pending entries, as a worker's
    reader does; the id of its job stream entry."""
    taken = await PoolQueues(redis, keys, pool, batch_aging=30).take(
        shard, consumer=consumer, now=time.time()
    )
    assert taken.jobs, "no job waits"
    return taken.jobs[0].entry_id


async def events(redis: Redis, keys: Keys, job_id: str) -> list[dict[str, Any]]:
    """The job's event log, oldest first."""
    entries = cast(list[tuple[str, dict[str, str]]], await redis.xrange(keys.events(job_id)))
    return [json.loads(fields["e"]) for _, fields in entries]


async def status(redis: Redis, keys: Keys, job_id: str) -> str | None:
    return cast(str | None, await redis.hget(keys.job(job_id), "status"))


async def pending_by_consumer(redis: Redis, keys: Keys, pool: str) -> dict[str, int]:
    """How many entries each consumer holds pending, over every shard stream of `pool`, in
    one moment (a transaction: read stream by stream, a job acknowledged in one and the
    next taken in another could both be counted)."""
    held: dict[str, int] = {}
    async with redis.pipeline(transaction=True) as pipe:
        for stream in keys.job_streams(pool):
            pipe.xpending(stream, GROUP)
        summaries = await pipe.execute()
    for summary in summaries:
        for consumer in summary["consumers"] or []:
            name = consumer["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            held[name] = held.get(name, 0) + int(consumer["pending"])
    return held
