"""The fan-out hub's readers per shard, in process, against real Redis: one blocking reader per
shard that has watched jobs (none for the others), woken by its wake stream, never by
`CLIENT UNBLOCK`."""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from contracts.keys import Keys
from edge.fanout import Hub
from edge.outbox import LOST
from edge.shards import WAKE_TTL_SECONDS, one_client
from tests.support.hub import (
    SHARDS,
    WATCHED,
    append,
    blocked_readers,
    job_in,
    outbox,
    received,
    stream_exactly,
    unblocks,
)
from tests.support.topology import Topology
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def parts(redis_server_url: str) -> AsyncIterator[tuple[Redis, Redis, str]]:
    name = f"hubreader-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    reader = Redis.from_url(redis_server_url, decode_responses=True, client_name=name)
    try:
        yield redis, reader, name
    finally:
        await reader.aclose()
        await redis.aclose()


def new_hub(parts: tuple[Redis, Redis, str], block_ms: int) -> Hub:
    redis, reader, _ = parts
    return Hub(redis, one_client(reader), Keys(f"hub{uuid.uuid4().hex[:8]}:", SHARDS), block_ms)


async def test_jobs_of_several_shards_stream_exactly_one_reader_per_watched_shard(
    parts: tuple[Redis, Redis, str],
) -> None:
    redis, _, name = parts
    hub = new_hub(parts, block_ms=200)
    await hub.start()
    try:
        assert hub.reading_shards == set()  # nothing watched: no reader, no connection
        jobs = [job_in(shard) for shard in WATCHED for _ in range(2)]

        async def three_blocked() -> bool:
            return await blocked_readers(redis, name) == len(WATCHED)

        await stream_exactly(hub, redis, jobs, three_blocked)
    finally:
        await hub.stop()
    assert await blocked_readers(redis, name) == 0


async def test_a_log_joining_a_blocked_read_is_read_at_once_without_client_unblock(
    parts: tuple[Redis, Redis, str],
) -> None:
    redis, _, name = parts
    hub = new_hub(parts, block_ms=30_000)  # a read that is not woken returns after 30 s
    await hub.start()
    try:
        first, second = job_in(2), job_in(2)
        await append(redis, hub.keys, first, 1)
        await append(redis, hub.keys, second, 1)
        hub.subscribe(outbox(), first, 0)
        await async_wait_for(lambda: blocked_readers(redis, name), 10, "the reader to block")
        before = await unblocks(redis)

        box = outbox()
        hub.subscribe(box, second, 0)
        assert await received(box, 1) == [1]  # its catch-up: its log has joined the read
        await append(redis, hub.keys, second, 2)
        assert await received(box, 1, timeout=5) == [2]  # live, long before 30 s
        assert await unblocks(redis) == before
        assert hub.reading_shards == {2}
    finally:
        await hub.stop()


async def test_the_wake_stream_holds_one_entry_and_expires(
    parts: tuple[Redis, Redis, str],
) -> None:
    redis, _, name = parts
    hub = new_hub(parts, block_ms=30_000)
    await hub.start()
    try:
        jobs = [job_in(6) for _ in range(12)]
        for job_id in jobs:
            await append(redis, hub.keys, job_id, 1)
        hub.subscribe(outbox(), jobs[0], 0)
        await async_wait_for(lambda: blocked_readers(redis, name), 10, "the reader to block")
        for job_id in jobs[1:]:  # each joins the blocked read and is read live at once
            box = outbox()
            hub.subscribe(box, job_id, 0)
            assert await received(box, 1) == [1]
            await append(redis, hub.keys, job_id, 2)
            assert await received(box, 1, timeout=5) == [2]
        wake = hub.keys.wake(6, hub.edge_id)
        assert await redis.xlen(wake) == 1
        assert 0 < await redis.ttl(wake) <= WAKE_TTL_SECONDS
    finally:
        await hub.stop()


async def test_after_an_outage_every_shard_tells_its_lost_jobs_and_logs_once(
    new_topology: Callable[[str], Topology], caplog: pytest.LogCaptureFixture
) -> None:
    topology = new_topology("standalone")
    redis = Redis.from_url(topology.url, decode_responses=True)
    reader = Redis.from_url(topology.url, decode_responses=True)
    hub = Hub(redis, one_client(reader), Keys(f"hub{uuid.uuid4().hex[:8]}:", SHARDS), 200)
    caplog.set_level(logging.INFO, "relayline.fanout")

    def lines(text: str) -> int:
        return sum(1 for record in caplog.records if text in record.getMessage())

    try:
        boxes = {job_in(shard): outbox() for shard in WATCHED}
        for job_id, box in boxes.items():
            await append(redis, hub.keys, job_id, 1)
            hub.subscribe(box, job_id, 0)
            assert await received(box, 1) == [1]
        assert hub.reading_shards == set(WATCHED)
        await asyncio.to_thread(topology.kill, topology.nodes[0])
        await async_wait_for(lambda: asyncio.sleep(0, lines("lost Redis")), 10, "an outage")
        lost_at = time.monotonic()
        await asyncio.to_thread(topology.restart, topology.nodes[0])  # without its data
        for job_id, box in boxes.items():  # each shard's reader verifies its own jobs
            found, seq, data = await asyncio.wait_for(box.get(), 10)
            assert (found, seq) == (job_id, LOST) and json.loads(data)["code"] == "job_lost"
        await async_wait_for(lambda: asyncio.sleep(0, not hub.reading_shards), 10, "no reader")
        outage = time.monotonic() - lost_at
        # three readers lost Redis: logged together, once per 5 s at most, as one reader did
        assert 1 <= lines("lost Redis") <= 1 + int(outage // 5)
        assert lines("reconnected") == 1
    finally:
        await hub.stop()
        await reader.aclose()
        await redis.aclose()


async def test_a_wake_stream_redis_refuses_is_replaced_and_the_reader_goes_on(
    parts: tuple[Redis, Redis, str],
) -> None:
    redis, _, _ = parts
    hub = new_hub(parts, block_ms=200)
    await hub.start()
    try:
        job_id, box = job_in(1), outbox()
        await append(redis, hub.keys, job_id, 1)
        hub.subscribe(box, job_id, 0)
        assert await received(box, 1) == [1]
        await redis.set(hub.keys.wake(1, hub.edge_id), "not a stream")  # XREAD: WRONGTYPE
        await append(redis, hub.keys, job_id, 2)
        assert await received(box, 1) == [2]
        await append(redis, hub.keys, job_id, 3)
        assert await received(box, 1) == [3]
        assert await redis.type(hub.keys.wake(1, hub.edge_id)) in {"none", "stream"}
    finally:
        await hub.stop()
