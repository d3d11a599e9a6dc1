"""`edge.ends.EndCache` against a real Redis: the outputs of the `job-end`s asked for in one
turn of the event loop are read in one pipeline, each end gets its own job's output, a
record Redis refuses fails only its own end, and a waiter that leaves cancels no one's
read."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from contracts.connect import connect
from contracts.keys import Keys
from edge.ends import EndCache
from edge.reader import retrying
from tests.support.redis import CountingRedis
from tests.support.topology import Topology

pytestmark = pytest.mark.integration


@pytest.fixture
async def counting(redis_server_url: str) -> AsyncIterator[CountingRedis]:
    client = cast(CountingRedis, CountingRedis.from_url(redis_server_url, decode_responses=True))
    try:
        yield client
    finally:
        await client.aclose()


def _end(job_id: str) -> str:
    return json.dumps(
        {"seq": 3, "job_id": job_id, "ts": 1.5, "type": "job-end", "status": "succeeded"},
        separators=(",", ":"),
    )


async def _jobs(redis: Redis, keys: Keys, count: int) -> list[str]:
    ids = [uuid.uuid4().hex for _ in range(count)]
    async with redis.pipeline(transaction=False) as pipe:
        for n, job_id in enumerate(ids):
            pipe.hset(keys.job(job_id), mapping={"status": "succeeded", "output": f'{{"n":{n}}}'})
        await pipe.execute()
    return ids


async def test_ends_asked_for_in_one_turn_are_read_in_one_pipeline(counting: CountingRedis) -> None:
    keys = Keys(f"ends{uuid.uuid4().hex[:8]}:")
    ends = EndCache(counting, keys, retrying)
    ids = await _jobs(counting, keys, 200)
    completes = await asyncio.gather(*(ends.complete(job_id, _end(job_id)) for job_id in ids))
    assert counting.calls["pipeline"] == 2  # the fixture's writes, then one read for all 200
    assert counting.calls["HGET"] == 0
    for n, (job_id, complete) in enumerate(zip(ids, completes, strict=True)):
        event = json.loads(complete)
        assert event["job_id"] == job_id and event["output"] == {"n": n}
    # kept: asked again, read no more; one end alone is one HGET
    await asyncio.gather(*(ends.complete(job_id, _end(job_id)) for job_id in ids))
    (late,) = await _jobs(counting, keys, 1)
    assert json.loads(await ends.complete(late, _end(late)))["output"] == {"n": 0}
    assert (counting.calls["pipeline"], counting.calls["HGET"]) == (3, 1)


async def test_many_waiting_for_one_end_share_its_read(counting: CountingRedis) -> None:
    keys = Keys(f"ends{uuid.uuid4().hex[:8]}:")
    ends = EndCache(counting, keys, retrying)
    (job_id,) = await _jobs(counting, keys, 1)
    completes = await asyncio.gather(*(ends.complete(job_id, _end(job_id)) for _ in range(100)))
    assert len(set(completes)) == 1 and json.loads(completes[0])["output"] == {"n": 0}
    assert counting.calls["HGET"] == 1


async def test_a_record_redis_refuses_fails_only_its_own_end(counting: CountingRedis) -> None:
    keys = Keys(f"ends{uuid.uuid4().hex[:8]}:")
    ends = EndCache(counting, keys, retrying)
    ids = await _jobs(counting, keys, 20)
    bad = uuid.uuid4().hex
    await counting.set(keys.job(bad), "not a hash")  # HGET: WRONGTYPE
    answers = await asyncio.gather(
        *(ends.complete(job_id, _end(job_id)) for job_id in [*ids[:10], bad, *ids[10:]]),
        return_exceptions=True,
    )
    assert isinstance(answers[10], ResponseError)
    good = [answer for n, answer in enumerate(answers) if n != 10]
    assert [json.loads(cast(str, answer))["output"] for answer in good] == [
        {"n": n} for n in range(20)
    ]
    await counting.delete(keys.job(bad))  # a refusal is not kept: asked again, read again
    assert json.loads(await ends.complete(bad, _end(bad)))["output"] is None


async def test_a_waiter_that_leaves_cancels_no_one_elses_read(counting: CountingRedis) -> None:
    keys = Keys(f"ends{uuid.uuid4().hex[:8]}:")
    ends = EndCache(counting, keys, retrying)
    first, second = await _jobs(counting, keys, 2)
    leaving = asyncio.create_task(ends.complete(first, _end(first)))
    staying = asyncio.create_task(ends.complete(first, _end(first)))
    other = asyncio.create_task(ends.complete(second, _end(second)))
    await asyncio.sleep(0)  # all three wait for the turn's read
    leaving.cancel()
    assert json.loads(await asyncio.wait_for(staying, 10))["output"] == {"n": 0}
    assert json.loads(await asyncio.wait_for(other, 10))["output"] == {"n": 1}
    assert leaving.cancelled()


async def test_on_a_cluster_the_ends_of_every_shard_are_read_together(
    redis_cluster: Topology,
) -> None:
    client = cast(RedisCluster, connect(redis_cluster.url, max_connections=8))
    keys = Keys(f"ends{uuid.uuid4().hex[:8]}:")
    ends = EndCache(cast(Redis, client), keys, retrying)
    try:
        ids = [
            keys.new_job_id(f"owner-{n}") for n in range(64)
        ]  # owners in every shard: the jobs' records on every master
        assert len({keys.shard_of_job(job_id) for job_id in ids}) == keys.shards
        for n, job_id in enumerate(ids):
            await client.hset(keys.job(job_id), mapping={"output": f'{{"n":{n}}}'})
        bad = keys.new_job_id("owner-bad")
        await client.set(keys.job(bad), "not a hash")
        answers = await asyncio.gather(
            *(ends.complete(job_id, _end(job_id)) for job_id in [bad, *ids]),
            return_exceptions=True,
        )
        assert isinstance(answers[0], ResponseError)
        assert [json.loads(cast(str, answer))["output"] for answer in answers[1:]] == [
            {"n": n} for n in range(64)
        ]
    finally:
        await client.aclose()
