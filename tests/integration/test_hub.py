"""The fan-out hub in process, against real Redis: a read Redis refuses ends the one
subscription it belongs to; the shared reader goes on serving every other job."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import cast

import pytest
from redis.asyncio import Redis

from contracts.keys import Keys
from edge.fanout import LOST, Hub
from edge.outbox import Item, Outbox
from edge.shards import one_client
from tests.support.redis import CountingRedis

pytestmark = pytest.mark.integration


@pytest.fixture
async def hub(redis_server_url: str) -> AsyncIterator[Hub]:
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    reader = Redis.from_url(redis_server_url, decode_responses=True)
    hub = Hub(redis, one_client(reader), Keys(f"hub{uuid.uuid4().hex[:8]}:"), block_ms=200)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()
        await reader.aclose()
        await redis.aclose()


async def _job(hub: Hub, job_id: str, seq: int = 1) -> None:
    await hub.redis.hset(hub.keys.job(job_id), mapping={"status": "running", "seq": seq})
    event = {"seq": seq, "job_id": job_id, "ts": 0, "type": "text-delta", "delta": "x"}
    await hub.redis.xadd(hub.keys.events(job_id), {"e": json.dumps(event)}, id=f"0-{seq}")


async def _next(outbox: Outbox) -> Item:
    return await asyncio.wait_for(outbox.get(), 10)


async def test_a_refused_read_ends_one_subscription_and_the_reader_goes_on(hub: Hub) -> None:
    await _job(hub, "good")
    await _job(hub, "bad")
    good = Outbox(100, 1 << 20, on_overflow=lambda: None)
    bad = Outbox(100, 1 << 20, on_overflow=lambda: None)
    hub.subscribe(good, "good", 0)
    hub.subscribe(bad, "bad", 0)
    assert (await _next(good))[1] == 1 and (await _next(bad))[1] == 1
    # the bad job's log turns into something Redis refuses to XREAD while it is followed
    await hub.redis.delete(hub.keys.events("bad"))
    await hub.redis.set(hub.keys.events("bad"), "not a stream")
    await _job(hub, "good", 2)
    job_id, seq, data = await _next(bad)
    assert (job_id, seq) == ("bad", LOST) and json.loads(data)["type"] == "error"
    assert (await _next(good))[1] == 2
    await _job(hub, "good", 3)
    assert (await _next(good))[1] == 3
    # a new subscription whose own catch-up is refused fails alone too
    late = Outbox(100, 1 << 20, on_overflow=lambda: None)
    hub.subscribe(late, "bad", 0)
    assert (await _next(late))[1] == LOST
    await _job(hub, "good", 4)
    assert (await _next(good))[1] == 4


async def test_an_expired_log_is_answered_with_the_record_its_output_unparsed(hub: Hub) -> None:
    # stored as a worker would not write it: a parse and re-serialization would change it
    output = '{"embeddings": [[1.0e0, -2.5E-07]], "dimensions": 2}'
    await hub.redis.hset(
        hub.keys.job("expired"),
        mapping={"id": "e" * 32, "owner": "alice", "model": "embed", "status": "succeeded"},
    )
    await hub.redis.hset(hub.keys.job("expired"), mapping={"created_at": "1.5", "output": output})
    outbox = Outbox(100, 1 << 20, on_overflow=lambda: None)
    hub.subscribe(outbox, "expired", 0)  # its log is empty: it expired
    job_id, seq, data = await _next(outbox)
    assert (job_id, seq) == ("expired", LOST)
    assert f'"output":{output}}}}}' in data
    error = json.loads(data)
    assert error["code"] == "events_expired" and error["job_id"] == "expired"
    assert error["record"]["output"] == json.loads(output)
    assert "expired" not in hub.watches


class _PausedHub(Hub):
    """A hub whose read of an expired job's record waits for the test's go."""

    reading: asyncio.Event
    go: asyncio.Event

    async def _gone(self, job_id: str) -> str:
        self.reading.set()
        await self.go.wait()
        return await super()._gone(job_id)


async def test_who_subscribes_while_the_expired_record_is_read_is_told_too(
    redis_server_url: str,
) -> None:
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    reader = Redis.from_url(redis_server_url, decode_responses=True)
    hub = _PausedHub(redis, one_client(reader), Keys(f"hub{uuid.uuid4().hex[:8]}:"), block_ms=200)
    hub.reading, hub.go = asyncio.Event(), asyncio.Event()
    await hub.start()
    try:
        await redis.hset(
            hub.keys.job("expired"),
            mapping={"id": "e" * 32, "owner": "alice", "model": "embed", "status": "failed"},
        )
        await redis.hset(hub.keys.job("expired"), mapping={"created_at": "1.5"})
        first, second = (Outbox(100, 1 << 20, on_overflow=lambda: None) for _ in range(2))
        hub.subscribe(first, "expired", 0)
        await asyncio.wait_for(hub.reading.wait(), 10)
        hub.subscribe(second, "expired", 0)  # joins the watch while its record is read
        hub.go.set()
        for outbox in (first, second):
            job_id, seq, data = await _next(outbox)
            assert (job_id, seq) == ("expired", LOST)
            assert json.loads(data)["code"] == "events_expired"
    finally:
        await hub.stop()
        await reader.aclose()
        await redis.aclose()


def _catch_up_reads(redis: CountingRedis) -> int:
    """The catch-up's reads a client sent: tails and ranges."""
    return redis.calls["XREVRANGE"] + redis.calls["XRANGE"]


async def _end(hub: Hub, job_id: str, seq: int) -> None:
    await hub.redis.hset(hub.keys.job(job_id), mapping={"status": "succeeded", "output": "7"})
    event = {"seq": seq, "job_id": job_id, "ts": 0, "type": "job-end", "status": "succeeded"}
    data = json.dumps(event, separators=(",", ":"))  # as the scripts write it
    await hub.redis.xadd(hub.keys.events(job_id), {"e": data}, id=f"0-{seq}")


async def test_a_job_this_edge_just_made_is_read_live_from_its_first_event(
    redis_server_url: str,
) -> None:
    redis = cast(CountingRedis, CountingRedis.from_url(redis_server_url, decode_responses=True))
    reader = Redis.from_url(redis_server_url, decode_responses=True)
    hub = Hub(redis, one_client(reader), Keys(f"hub{uuid.uuid4().hex[:8]}:"), block_ms=200)
    try:
        await _job(hub, "made")  # its job-queued, as SUBMIT writes it
        mine = Outbox(100, 1 << 20, on_overflow=lambda: None)
        assert hub.subscribe(mine, "made", 0, created=True) is None  # no catch-up task
        assert (await _next(mine))[1] == 1
        await _job(hub, "made", 2)
        await _end(hub, "made", 3)
        assert (await _next(mine))[1] == 2
        job_id, seq, data = await _next(mine)
        assert (job_id, seq) == ("made", 3) and json.loads(data)["output"] == 7
        assert _catch_up_reads(redis) == 0  # no tail read, no catch-up

        await _job(hub, "watched")
        other = Outbox(100, 1 << 20, on_overflow=lambda: None)
        hub.subscribe(other, "watched", 0)  # followed here already: the usual way
        assert (await _next(other))[1] == 1
        reads = _catch_up_reads(redis)
        late = Outbox(100, 1 << 20, on_overflow=lambda: None)
        assert hub.subscribe(late, "watched", 0, created=True) is not None
        assert (await _next(late))[1] == 1  # caught up by a read of its own
        assert _catch_up_reads(redis) > reads
    finally:
        await hub.stop()
        await reader.aclose()
        await redis.aclose()
