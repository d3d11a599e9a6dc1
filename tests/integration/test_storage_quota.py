"""A user's budget of stored output, against real Redis: submit holds the pool's largest
output until the job ends, whichever script ends it gives that back and charges the output's
real size, and a bucket over the budget refuses submits with `storage_quota` until it
drains."""

from collections.abc import AsyncIterator

import pytest
from pydantic_core import to_json
from redis.asyncio import Redis

from contracts.eventlog import EventLog, JobRef
from contracts.events import JobEnd
from contracts.jobs import JobRequest, JobStatus
from contracts.log import AppendResult
from contracts.pools import load_pools
from edge.errors import TooManyRequests
from edge.store import JobStore
from edge.tiers import DEFAULT_TIER
from tests.support.stack import POOLS_FILE, Stack
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration

BUDGET = 1000
CHAT_HELD = load_pools(POOLS_FILE).pools["sim"].max_output_bytes
REQUEST = JobRequest(model="sim", input={"messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url, decode_responses=True)
    yield client
    await client.aclose()


def store_of(redis: Redis, stack: Stack, retention: int = 86400) -> JobStore:
    return JobStore(
        redis,
        stack.keys,
        load_pools(POOLS_FILE),
        retention_seconds=retention,
        idempotency_ttl_seconds=600,
        tier_for=lambda _: DEFAULT_TIER.model_copy(update={"max_stored_bytes": BUDGET}),
    )


async def level(redis: Redis, stack: Stack, user: str = "alice") -> int:
    return int(await redis.hget(stack.keys.user_stored(user), "level") or 0)


async def end_with_output(redis: Redis, stack: Stack, job_id: str, output: object) -> None:
    """What a worker does: start the job, then write its job-end with the output."""
    events = EventLog(redis, stack.keys, 86400)
    started = await events.start(job_id, worker="w", now=1.0)
    end = JobEnd(job_id=job_id, seq=1, ts=1.0, status=JobStatus.succeeded, output=output)
    job = JobRef(job_id, "sim", "alice")
    answer = await events.append(
        job, attempt=started.attempt, step=started.steps + 1, floor=0, event=end
    )
    assert answer.result == AppendResult.ok


async def test_submit_holds_the_largest_output_and_the_end_charges_the_real_one(
    redis: Redis, stack: Stack
) -> None:
    store = store_of(redis, stack)
    first, _ = await store.submit("alice", REQUEST)
    assert await level(redis, stack) == CHAT_HELD  # held while the job runs
    with pytest.raises(TooManyRequests) as refused:
        await store.submit("alice", REQUEST)
    assert refused.value.code == "storage_quota"
    seconds = int(refused.value.headers["Retry-After"])
    assert abs(seconds - (CHAT_HELD - BUDGET) * 86400 / BUDGET) < 86400 / BUDGET + 2
    other, _ = await store.submit("bob", REQUEST)  # a budget of its own
    assert other
    output = {"text": "x" * 300}
    await end_with_output(redis, stack, first, output)
    assert await level(redis, stack) == len(to_json(output))  # the held bytes given back
    assert await redis.hget(stack.keys.job(first), "store_held") is None
    second, _ = await store.submit("alice", REQUEST)
    await store.cancel("alice", second)  # a cancel gives the held bytes back too
    assert await level(redis, stack) == len(to_json(output)) + len(b"null")
    ttl = await redis.ttl(stack.keys.user_stored("alice"))
    assert 0 < ttl <= (len(to_json(output)) + 4) * 86400 / BUDGET + 2


async def test_an_ended_job_is_charged_once(redis: Redis, stack: Stack) -> None:
    store = store_of(redis, stack)
    job_id, _ = await store.submit("alice", REQUEST)
    await end_with_output(redis, stack, job_id, {"text": "y" * 100})
    charged = await level(redis, stack)
    await store.cancel("alice", job_id)  # ended already: nothing more
    assert await level(redis, stack) == charged


async def test_the_bucket_drains_over_one_retention(redis: Redis, stack: Stack) -> None:
    store = store_of(redis, stack, retention=2)  # drains the budget in 2 s
    job_id, _ = await store.submit("alice", REQUEST)
    with pytest.raises(TooManyRequests):
        await store.submit("alice", REQUEST)
    await end_with_output(redis, stack, job_id, {"text": "z" * 2000})

    async def admitted() -> bool:
        try:
            await store.submit("alice", REQUEST)
        except TooManyRequests as exc:
            if exc.code != "storage_quota":
                raise
            return False
        return True

    assert await async_wait_for(admitted, timeout=10, what="the bucket to drain")
    assert await redis.exists(stack.keys.user_stored("alice"))
