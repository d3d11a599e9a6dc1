"""The worker process: a FastStream app serving one pool.

It creates the pool's consumer group from id 0 (jobs queued before any worker started are
not skipped), loads the engine, then reads jobs through the group with `concurrency` jobs at
once. A job is acknowledged only after its `job-end` is written; heartbeats announce the
worker and its model's limits to the edges.
"""

import asyncio
import contextlib
import logging
import os
import time

from faststream import FastStream
from faststream.exceptions import NackMessage
from faststream.redis import RedisBroker, StreamSub
from redis.asyncio import BlockingConnectionPool, Redis

from contracts.jobs import JobEnvelope
from contracts.keys import GROUP, Keys
from contracts.models import ModelLimits
from contracts.pools import load_pools
from worker.engines.registry import Registry, default_registry
from worker.errors import JobLost
from worker.runner import JobRunner
from worker.settings import Settings

log = logging.getLogger("relayline.worker")


async def ensure_group(redis: Redis, stream: str) -> None:
    try:
        await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except Exception as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def create_worker(settings: Settings, registry: Registry | None = None) -> FastStream:
    pools = load_pools(settings.pools_file)
    pool = pools.get(settings.pool)
    if pool is None:
        known = ", ".join(sorted(pools.pools))
        raise SystemExit(f"no pool {settings.pool!r} in {settings.pools_file}; known: {known}")
    engine = (registry or default_registry()).create(pool)
    keys = Keys(settings.key_prefix)
    concurrency = settings.concurrency or pool.concurrency
    # A blocking pool: many concurrent jobs wait for a connection instead of failing.
    redis = Redis.from_pool(
        BlockingConnectionPool.from_url(
            settings.redis_url,
            decode_responses=True,
            max_connections=settings.redis_max_connections,
            timeout=10,
        )
    )
    runner = JobRunner(
        redis,
        keys,
        engine,
        settings.worker_id,
        coalesce_seconds=settings.coalesce_ms / 1000,
        cancel_poll_seconds=settings.cancel_poll_seconds,
        retention_seconds=settings.event_retention_seconds,
    )
    broker = RedisBroker(settings.redis_url, logger=log)
    stream = StreamSub(
        keys.jobs(pool.name),
        group=GROUP,
        consumer=settings.worker_id,
        polling_interval=settings.polling_interval_ms,
    )
    subscriber = broker.subscriber(
        stream=stream, max_workers=concurrency, title=f"jobs:{pool.name}"
    )

    @subscriber
    async def handle(body: JobEnvelope) -> None:
        try:
            await runner.run(body)
        except JobLost as exc:
            log.warning("job %s was taken over (%s); leaving it to its new owner", body.id, exc)
            raise NackMessage() from exc

    heartbeat: asyncio.Task[None] | None = None
    limits = ModelLimits(max_context=0)

    async def beat(limits: ModelLimits) -> None:
        info: dict[str | bytes, str | bytes | int | float] = {
            "pool": pool.name,
            "engine": pool.engine,
            "model": pool.model,
            "max_context": limits.max_context,
            "pid": os.getpid(),
        }
        while True:
            try:
                now = time.time()
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.zadd(keys.workers(pool.name), {settings.worker_id: now})
                    pipe.zremrangebyscore(keys.workers(pool.name), "-inf", now - 3600)
                    pipe.hset(
                        keys.worker(settings.worker_id),
                        mapping={**info, "running": len(runner.running), "seen": now},  # type: ignore[dict-item]
                    )
                    pipe.expire(
                        keys.worker(settings.worker_id), int(settings.heartbeat_seconds * 5) + 1
                    )
                    await pipe.execute()
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(settings.heartbeat_seconds)

    async def startup() -> None:
        nonlocal limits
        await engine.load()
        await ensure_group(redis, keys.jobs(pool.name))
        limits = engine.limits()
        await redis.set(keys.model_limits(pool.name), limits.model_dump_json())
        log.info(
            "worker %s serving pool %s (%s engine, concurrency %d)",
            settings.worker_id,
            pool.name,
            pool.engine,
            concurrency,
        )

    async def after_startup() -> None:
        nonlocal heartbeat
        heartbeat = asyncio.create_task(beat(limits))

    async def shutdown() -> None:
        if heartbeat:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        with contextlib.suppress(Exception):
            await redis.zrem(keys.workers(pool.name), settings.worker_id)
            await redis.delete(keys.worker(settings.worker_id))
        await redis.aclose()

    return FastStream(
        broker,
        on_startup=[startup],
        after_startup=[after_startup],
        after_shutdown=[shutdown],
    )
