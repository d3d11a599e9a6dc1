"""The fan-out hub's readers per shard, in process, against real Redis: one blocking reader per
shard that has watched jobs (none for the others), woken by its wake stream, never by
`CLIENT UNBLOCK`."""

import asyncio
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from contracts.keys import Keys
from edge.fanout import Hub
from edge.outbox import LOST, Outbox
from edge.shards import WAKE_TTL_SECONDS, one_client
from tests.support.topology import Topology
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration

SHARDS = 8
WATCHED = (0, 3, 5)


def job_in(shard: int) -> str:
    return f"{shard:04x}{secrets.token_hex(14)}"


async def append(redis: Any, keys: Keys, job_id: str, seq: int, kind: str = "text-delta") -> None:
    await redis.hset(keys.job(job_id), mapping={"status": "running", "seq": seq})
    event = {"seq": seq, "job_id": job_id, "ts": 0, "type": kind}
    data = json.dumps(event, separators=(",", ":"))  # as a worker writes it
    await redis.xadd(keys.events(job_id), {"e": data}, id=f"0-{seq}")


def outbox() -> Outbox:
    return Outbox(10_000, 1 << 24, on_overflow=lambda: None)


async def received(box: Outbox, count: int, timeout: float = 10) -> list[int]:
    """The seqs of the next `count` items; a `job-end` must come with its output."""
    seqs: list[int] = []
    async with asyncio.timeout(timeout):
        while len(seqs) < count:
            _, seq, data = await box.get()
            assert '"type":"job-end"' not in data or data.endswith(',"output":null}')
            seqs.append(seq)
    return seqs


async def blocked_readers(redis: Any, name: str) -> int:
    """Connections of this test's readers blocked in a command (CLIENT LIST flag `b`)."""
    clients = await redis.client_list()
    return sum(1 for client in clients if client["name"] == name and "b" in client["flags"])


async def unblocks(redis: Any) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_client|unblock", {}).get("calls", 0))


async def stream_exactly(hub: Hub, redis: Any, jobs: list[str], blocked: Callable[[], Any]) -> None:
    """Every job streams seqs 1..40 then its job-end, exactly, while one reader per watched
    shard reads; when they end, no reader is left."""
    boxes = {job_id: outbox() for job_id in jobs}
    for job_id in jobs:
        await append(redis, hub.keys, job_id, 1)
        hub.subscribe(boxes[job_id], job_id, 0)
    shards = {hub.keys.shard_of_job(job_id) for job_id in jobs}
    await async_wait_for(
        lambda: asyncio.sleep(0, hub.reading_shards == shards), 10, "a reader per shard"
    )
    await async_wait_for(blocked, 10, "the shards' readers to block")
    for seq in range(2, 41):
        for job_id in jobs:
            await append(redis, hub.keys, job_id, seq)
    for job_id in jobs:
        await append(redis, hub.keys, job_id, 41, "job-end")
    for job_id, box in boxes.items():
        assert await received(box, 41) == list(range(1, 42)), job_id
    await async_wait_for(
        lambda: asyncio.sleep(0, not hub.reading_shards), 10, "the readers to end with their jobs"
    )


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


async def test_on_a_cluster_each_shard_reads_from_the_node_owning_its_slot(
    redis_cluster: Topology,
) -> None:
    """Without one reader per shard the one XREAD over every watched log is CROSSSLOT."""
    name = f"hubreader-{uuid.uuid4().hex[:8]}"
    nodes = [ClusterNode("127.0.0.1", node.port) for node in redis_cluster.masters]
    cluster = RedisCluster(startup_nodes=nodes, decode_responses=True)
    await cluster.initialize()
    clients: dict[int, Redis] = {}  # by port: a client of each node, made when first asked

    async def node_client(key: str) -> Redis:
        node = cluster.get_node_from_key(key)
        assert node is not None
        port = int(node.port)
        if port not in clients:
            clients[port] = Redis(port=port, decode_responses=True, client_name=name)
        return clients[port]

    async def blocked_everywhere() -> bool:
        counts = [await blocked_readers(client, name) for client in clients.values()]
        return sum(counts) == len(WATCHED)

    hub = Hub(cast(Redis, cluster), node_client, Keys(f"hub{uuid.uuid4().hex[:8]}:", SHARDS), 200)
    await hub.start()
    try:
        jobs = [job_in(shard) for shard in WATCHED for _ in range(2)]
        await stream_exactly(hub, cluster, jobs, blocked_everywhere)
        assert len(clients) > 1  # the watched shards live on several nodes
    finally:
        await hub.stop()
        for client in clients.values():
            await client.aclose()
        await cluster.aclose()


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
