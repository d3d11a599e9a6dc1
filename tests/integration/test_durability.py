"""Commit points wait for replicas (`EDGE_REDIS_WAIT_REPLICAS`, `WORKER_REDIS_WAIT_REPLICAS`):
a submit is on the replica before its 202, a job's end before its acknowledgement; a replica
that does not answer in time is logged, never refused. Real servers: a master and a replica."""

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis as sync_redis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from contracts.connect import connect
from contracts.durability import Durability
from contracts.eventlog import EventLog, JobRef
from contracts.events import JobEnd
from contracts.jobs import JobRequest, JobStatus
from contracts.keys import Keys
from contracts.pools import load_pools
from edge.store import JobStore
from relayline.redis_server import RedisProcess, start_redis
from tests.support.stack import POOLS_FILE
from tests.support.topology import Topology
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

REQUEST = JobRequest(model="sim", input={"messages": [{"role": "user", "content": "hi"}]})
KEYS = Keys("durable:")


@pytest.fixture
def master(tmp_path: Path) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path / "master", appendonly=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def replica(master: RedisProcess, tmp_path: Path) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path / "replica", appendonly=False)
    client = sync_redis.Redis.from_url(server.url, decode_responses=True)
    try:
        client.replicaof("127.0.0.1", master.port)
        wait_for(
            lambda: client.info("replication")["master_link_status"] == "up",
            what="the replica to sync",
        )
        yield server
    finally:
        client.close()
        server.stop()


def _waits(master: RedisProcess | sync_redis.Redis) -> int:
    """How many `WAIT`s the master ran."""
    if isinstance(master, RedisProcess):
        with sync_redis.Redis.from_url(master.url, decode_responses=True) as client:
            return _waits(client)
    stats = master.info("commandstats")
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


def store_of(redis: Redis, durability: Durability) -> JobStore:
    return JobStore(
        redis,
        KEYS,
        load_pools(POOLS_FILE),
        retention_seconds=600,
        idempotency_ttl_seconds=600,
        durability=durability,
    )


async def test_a_submit_and_a_job_end_are_on_the_replica_when_they_return(
    master: RedisProcess, replica: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    durability = Durability(replicas=1, timeout_ms=4000)
    redis = Redis.from_url(master.url, decode_responses=True)
    copy = sync_redis.Redis.from_url(replica.url, decode_responses=True)
    try:
        job_id, _ = await store_of(redis, durability).submit("alice", REQUEST)
        # The submit waited for the replica (on its own a replica acknowledges what it got
        # once a second), and the replica holds the job.
        assert _waits(master) == 1
        assert copy.hget(KEYS.job(job_id), "status") == "queued"
        waiting = KEYS.waiting("sim", KEYS.shard_of_job(job_id), "interactive")
        assert copy.zscore(waiting, job_id) is not None  # queued on the replica too

        events = EventLog(redis, KEYS, 600, durability)
        started = await events.start(job_id, worker="w", now=1.0)
        end = JobEnd(job_id=job_id, seq=1, ts=2.0, status=JobStatus.succeeded, output="ok")
        job = JobRef(job_id, "sim", "alice")
        await events.append(
            job, attempt=started.attempt, step=started.steps + 1, floor=0, event=end
        )
        assert _waits(master) == 2  # the job-end waited (the start is no commit point)
        assert copy.hget(KEYS.job(job_id), "status") == "succeeded"
    finally:
        await redis.aclose()
        copy.close()
    assert "replicas within" not in caplog.text


async def test_a_missing_replica_is_logged_and_the_submit_still_taken(
    master: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    redis = Redis.from_url(master.url, decode_responses=True)
    try:
        with caplog.at_level(logging.WARNING, logger="relayline.eventlog"):
            store = store_of(redis, Durability(replicas=1, timeout_ms=50))
            job_id, created = await store.submit("alice", REQUEST)
        assert created
        assert await redis.hget(KEYS.job(job_id), "status") == "queued"
    finally:
        await redis.aclose()
    assert f"the submit of job {job_id} reached 0 of 1 replicas within 50 ms" in caplog.text


async def test_on_a_cluster_the_wait_runs_on_the_master_of_the_jobs_slot(
    redis_cluster_replicas: Topology, caplog: pytest.LogCaptureFixture
) -> None:
    """A cluster pipeline would send a keyless WAIT to every master (and sum their answers);
    it must go to the master that ran the script, on the script's connection."""
    redis = cast(RedisCluster, connect(redis_cluster_replicas.url, max_connections=4))
    keys = Keys(f"durable{uuid.uuid4().hex[:8]}:")
    masters = {node.port: node for node in redis_cluster_replicas.masters}
    before = {port: _waits(node.client()) for port, node in masters.items()}
    try:
        with caplog.at_level(logging.WARNING, logger="relayline.eventlog"):
            store = JobStore(
                cast(Redis, redis),
                keys,
                load_pools(POOLS_FILE),
                retention_seconds=600,
                idempotency_ttl_seconds=600,
                durability=Durability(replicas=1, timeout_ms=4000),
            )
            job_id, created = await store.submit("alice", REQUEST)
        node = redis.get_node_from_key(keys.job(job_id))
        assert node is not None
        owner = node.port
    finally:
        await redis.aclose()
    assert created
    after = {port: _waits(node.client()) for port, node in masters.items()}
    assert {port for port in masters if after[port] > before[port]} == {owner}
    assert "replicas within" not in caplog.text
