"""`contracts.batch.ScriptBatch` against the session's real Redis: concurrent script calls
share one trip, and each caller still gets its own answer or its own error."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError, ResponseError

from contracts.batch import ScriptBatch
from contracts.jobs import JobRequest
from contracts.keys import Keys
from contracts.pools import ModelKind, PoolConfig, PoolsConfig
from edge.ratelimit import RateLimiter
from edge.store import JobStore
from edge.tiers import DEFAULT_TIER
from relayline.redis_server import free_port

pytestmark = pytest.mark.integration

# KEYS[1] a counter; ARGV[1] how much to add, or 'fail' for a script error.
ADD = """
if ARGV[1] == 'fail' then return redis.error_reply('ERR asked to fail') end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


@pytest.fixture
async def redis(redis_server_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def _count_trips(redis: Redis) -> list[int]:
    """Records the size of every pipeline the client sends (a single call counts as 0)."""
    sizes: list[int] = []
    make = redis.pipeline

    def pipeline(*args: object, **kwargs: object) -> object:
        pipe = make(*args, **kwargs)  # type: ignore[arg-type]
        execute = pipe.execute

        async def counted(raise_on_error: bool = True) -> list[object]:
            sizes.append(len(pipe.command_stack))
            return await execute(raise_on_error=raise_on_error)

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe

    redis.pipeline = pipeline  # type: ignore[assignment, method-assign]
    return sizes


async def test_concurrent_calls_share_one_pipeline_and_get_their_own_answers(
    redis: Redis,
) -> None:
    key = f"t{uuid.uuid4().hex[:12]}:n"
    script = redis.register_script(ADD)
    batch = ScriptBatch(redis)
    await script(keys=[key], args=[0])  # loaded
    sizes = _count_trips(redis)
    answers = await asyncio.gather(*(batch(script, [key], [1]) for _ in range(20)))
    assert sorted(answers) == list(range(1, 21))  # each call ran once, atomically
    assert sizes == [20]
    assert await batch(script, [key], [5]) == 25  # alone: no pipeline
    assert sizes == [20]


async def test_a_script_error_fails_its_own_call_only(redis: Redis) -> None:
    key = f"t{uuid.uuid4().hex[:12]}:n"
    script = redis.register_script(ADD)
    batch = ScriptBatch(redis)
    answers = await asyncio.gather(
        batch(script, [key], [1]),
        batch(script, [key], ["fail"]),
        batch(script, [key], [1]),
        return_exceptions=True,
    )
    assert answers[0] == 1 and answers[2] == 2
    assert isinstance(answers[1], ResponseError) and "asked to fail" in str(answers[1])


async def test_an_unknown_script_is_loaded_and_run(redis: Redis) -> None:
    key = f"t{uuid.uuid4().hex[:12]}:n"
    script = redis.register_script(ADD + f"-- {uuid.uuid4().hex}")  # never loaded yet
    batch = ScriptBatch(redis)
    answers = await asyncio.gather(*(batch(script, [key], [2]) for _ in range(5)))
    assert sorted(answers) == [2, 4, 6, 8, 10]


async def test_a_caller_that_stops_waiting_leaves_the_others_their_answers(
    redis: Redis,
) -> None:
    key = f"t{uuid.uuid4().hex[:12]}:n"
    script = redis.register_script(ADD)
    batch = ScriptBatch(redis)
    gone = asyncio.ensure_future(batch(script, [key], [1]))
    kept = [asyncio.ensure_future(batch(script, [key], [1])) for _ in range(3)]
    await asyncio.sleep(0)  # all four queued
    gone.cancel()
    assert sorted(await asyncio.gather(*kept)) in ([1, 2, 3], [2, 3, 4])
    assert gone.cancelled()


async def test_redis_unreachable_fails_every_call_of_the_batch() -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    script = redis.register_script(ADD)
    batch = ScriptBatch(redis)
    try:
        answers = await asyncio.gather(
            *(batch(script, ["k"], [1]) for _ in range(3)), return_exceptions=True
        )
    finally:
        await redis.aclose()
    assert all(isinstance(answer, ConnectionError) for answer in answers)


async def test_the_edges_rate_checks_and_submits_share_a_trip(redis: Redis) -> None:
    keys = Keys(f"t{uuid.uuid4().hex[:12]}:")
    batch = ScriptBatch(redis)
    limiter = RateLimiter(redis, keys, batch)
    pools = PoolsConfig(pools={"chat": PoolConfig(name="chat", kind=ModelKind.chat, engine="x")})
    store = JobStore(
        redis, keys, pools, retention_seconds=60, idempotency_ttl_seconds=60, batch=batch
    )
    request = JobRequest(model="chat", input={"messages": [{"role": "user", "content": "hi"}]})
    await store.submit("alice", request)  # scripts loaded, the pool's limits read
    await limiter.request("alice", DEFAULT_TIER)
    sizes = _count_trips(redis)
    decisions = await asyncio.gather(*(limiter.request(f"u{i}", DEFAULT_TIER) for i in range(5)))
    submits = asyncio.gather(*(store.submit("alice", request) for _ in range(5)))
    checks = asyncio.gather(*(limiter.request("alice", DEFAULT_TIER) for _ in range(5)))
    submitted, checked = await asyncio.gather(submits, checks)
    assert all(decision and decision.allowed for decision in [*decisions, *checked])
    assert len({job_id for job_id, created in submitted if created}) == 5
    assert sizes == [5, 10]  # five checks in one trip; then five submits and five checks
