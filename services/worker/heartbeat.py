"""Heartbeats: the worker announces itself, renews its leases and repairs Redis state.

Every `heartbeat_seconds` it records itself in `rl:workers:{pool}` (the live count of
`/v1/models`), renews the lease of every job it runs, and makes sure what a Redis restart
without persistence would have lost is back: the consumer group of every shard stream of the
pool (reading a stream without one fails with NOGROUP forever) and the model limits the edges
check requests against.
"""

import asyncio
import logging
import os
import time
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from contracts.keys import GROUP, Keys
from contracts.models import ModelLimits
from contracts.pools import PoolConfig
from worker.engines.base import Engine
from worker.leases import Leases
from worker.settings import Settings

log = logging.getLogger("relayline.worker")


async def ensure_groups(redis: Redis, streams: list[str]) -> None:
    """Create the consumer group of each of a pool's shard streams from id 0 (jobs queued
    before any worker started are delivered, not skipped); one that exists is left as it is.
    One round trip (a pipeline; on a Cluster, one per node)."""
    async with redis.pipeline(transaction=False) as pipe:
        for stream in streams:
            pipe.xgroup_create(stream, GROUP, id="0", mkstream=True)
        results = await pipe.execute(raise_on_error=False)
    for result in results:
        if isinstance(result, ResponseError) and "BUSYGROUP" in str(result):
            continue
        if isinstance(result, Exception):
            raise result


class Heartbeat:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        pool: PoolConfig,
        engine: Engine,
        settings: Settings,
        leases: Leases,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.pool = pool
        self.engine = engine
        self.settings = settings
        self.leases = leases
        self.limits = ModelLimits(max_context=0)

    async def publish_limits(self) -> None:
        self.limits = self.engine.limits()
        await self.redis.set(self.keys.model_limits(self.pool.name), self.limits.model_dump_json())

    async def beat(self) -> None:
        # Leases first, each shard stream on its own: on a Cluster a master in failover
        # (holding this worker's announcement, or another shard) must not let the leases of
        # jobs on the other masters run out.
        await self.leases.renew()
        now = time.time()
        worker_id, pool = self.settings.worker_id, self.pool.name
        info: dict[str, Any] = {
            "pool": pool,
            "engine": self.pool.engine,
            "model": self.pool.model,
            "max_context": self.limits.max_context,
            "pid": os.getpid(),
            "running": len(self.leases.held),
            "seen": now,
        }
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.workers(pool), {worker_id: now})
            pipe.zremrangebyscore(self.keys.workers(pool), "-inf", now - 3600)
            pipe.hset(self.keys.worker(worker_id), mapping=cast(Any, info))
            pipe.expire(self.keys.worker(worker_id), int(self.settings.heartbeat_seconds * 5) + 1)
            pipe.exists(self.keys.model_limits(pool))
            *_, limits_kept = await pipe.execute()
        await ensure_groups(self.redis, self.keys.job_streams(pool))
        if not limits_kept:
            await self.publish_limits()

    async def run_forever(self) -> None:
        failures = 0
        while True:
            try:
                await self.beat()
                if failures:
                    log.warning("Redis is back after %d failed heartbeats", failures)
                failures = 0
            except (RedisError, OSError) as exc:
                failures += 1
                if failures == 1 or failures % 30 == 0:  # a bounded log rate in an outage
                    log.warning("heartbeat failed (%s); %d in a row", exc, failures)
            await asyncio.sleep(self.settings.heartbeat_seconds)

    async def leave(self) -> None:
        await self.redis.zrem(self.keys.workers(self.pool.name), self.settings.worker_id)
        await self.redis.delete(self.keys.worker(self.settings.worker_id))
