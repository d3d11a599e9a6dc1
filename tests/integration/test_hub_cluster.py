"""The fan-out hub on a Redis Cluster, in process: each shard's reader blocks on the node that
owns the shard's slot, and follows the slot to a replica promoted after its master died."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisError, ResponseError

from contracts.connect import BlockingReaders
from contracts.keys import Keys
from edge.fanout import Hub
from tests.support.cluster import command
from tests.support.hub import (
    SHARDS,
    WATCHED,
    append,
    blocked_readers,
    job_in,
    outbox,
    received,
    stream_exactly,
)
from tests.support.topology import Topology
from tests.support.wait import async_wait_for, wait_for

pytestmark = pytest.mark.integration


READERS = "hubreader"


async def blocked(readers: BlockingReaders) -> int:
    """This test's reader connections blocked in a command, over every node."""
    return sum([await blocked_readers(client, READERS) for client in readers.clients])


def replicated(topology: Topology, key: str) -> bool:
    for replica in topology.replicas:
        client = replica.client()
        command(client, "READONLY")  # a replica answers reads of its master's slots
        try:
            if client.exists(key):
                return True
        except ResponseError:  # MOVED: the key's slot is another master's
            continue
    return False


@asynccontextmanager
async def cluster_hub(topology: Topology) -> AsyncIterator[tuple[Hub, BlockingReaders]]:
    nodes = [ClusterNode("127.0.0.1", node.port) for node in topology.masters]
    cluster = RedisCluster(startup_nodes=nodes, decode_responses=True)
    await cluster.initialize()
    readers = BlockingReaders(topology.url, cluster, connections=SHARDS, name=READERS)
    hub = Hub(cast(Redis, cluster), readers, Keys(f"hub{uuid.uuid4().hex[:8]}:", SHARDS), 200)
    await hub.start()
    try:
        yield hub, readers
    finally:
        await hub.stop()
        await readers.aclose()
        await cluster.aclose()


async def test_on_a_cluster_each_shard_reads_from_the_node_owning_its_slot(
    redis_cluster: Topology,
) -> None:
    """Without one reader per shard the one XREAD over every watched log is CROSSSLOT."""
    async with cluster_hub(redis_cluster) as (hub, readers):
        jobs = [job_in(shard) for shard in WATCHED for _ in range(2)]

        async def all_blocked() -> bool:
            return await blocked(readers) == len(WATCHED)

        await stream_exactly(hub, hub.redis, jobs, all_blocked)
        assert len(readers.clients) > 1  # the watched shards live on several nodes


async def test_a_shards_reader_follows_its_slot_to_the_promoted_replica(
    new_topology: Callable[[str], Topology],
) -> None:
    topology = new_topology("cluster-replicas")
    async with cluster_hub(topology) as (hub, readers):
        jobs = {shard: job_in(shard) for shard in WATCHED}
        boxes = {job_id: outbox() for job_id in jobs.values()}
        for job_id, box in boxes.items():
            await append(hub.redis, hub.keys, job_id, 1)
            hub.subscribe(box, job_id, 0)
            assert await received(box, 1) == [1]
        victim = await readers(hub.keys.events(jobs[WATCHED[1]]))
        port = victim.connection_pool.connection_kwargs["port"]
        (master,) = [node for node in topology.masters if node.port == port]
        event_keys = [hub.keys.events(job_id) for job_id in jobs.values()]
        wait_for(  # what the master holds has reached its replica before it dies
            lambda: all(replicated(topology, key) for key in event_keys), 10, "replication"
        )
        await asyncio.to_thread(topology.kill, master)
        await asyncio.to_thread(topology.wait_for_failover, master)

        async def appended(job_id: str, seq: int, kind: str = "text-delta") -> bool:
            try:
                await append(hub.redis, hub.keys, job_id, seq, kind)
            except RedisError:
                return False  # the cluster client has not seen the failover yet
            return True

        for job_id in boxes:
            await async_wait_for(partial(appended, job_id, 2), 20, "a write after the failover")
            await async_wait_for(partial(appended, job_id, 3, "job-end"), 20, "the job-end")
        for job_id, box in boxes.items():
            assert await received(box, 2, timeout=20) == [2, 3], job_id
