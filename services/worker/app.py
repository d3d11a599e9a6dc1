"""The worker process: a FastStream app serving one pool.

It creates the pool's consumer group from id 0 (jobs queued before any worker started are
not skipped), loads the engine, then reads jobs through the group with `concurrency` jobs at
once. A job is acknowledged only after its `job-end` is written. Alongside: heartbeats (which
also renew the leases of running jobs and recreate the group after a Redis restart), and the
reaper (which takes over jobs of dead workers). On SIGTERM it stops reading, lets running jobs
finish for `shutdown_grace_seconds`, and hands the rest back to the other workers at once.
"""

import asyncio
import contextlib
import logging
import signal

from faststream import FastStream
from faststream.exceptions import NackMessage
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisStreamMessage
from redis.asyncio import BlockingConnectionPool, Redis

from contracts.jobs import JobEnvelope
from contracts.keys import GROUP, Keys
from contracts.pools import load_pools
from worker.engines.registry import Registry, default_registry
from worker.errors import JobLost
from worker.heartbeat import Heartbeat, ensure_group
from worker.leases import Leases
from worker.reaper import Reaper
from worker.retry import with_retry
from worker.runner import JobRunner
from worker.settings import Settings

log = logging.getLogger("relayline.worker")


class WorkerApp(FastStream):
    """A FastStream app that remembers whether a signal stopped it. FastStream also stops
    an app by itself, e.g. when its consumer group vanished (a Redis restart without
    persistence) before the heartbeat recreated it; `relayline worker` then starts a new one."""

    signalled = False

    def on_signal(self) -> None:
        self.signalled = True
        self.exit()


def create_worker(settings: Settings, registry: Registry | None = None) -> WorkerApp:
    pools = load_pools(settings.pools_file)
    pool = pools.get(settings.pool)
    if pool is None:
        known = ", ".join(sorted(pools.pools))
        raise SystemExit(f"no pool {settings.pool!r} in {settings.pools_file}; known: {known}")
    engine = (registry or default_registry()).create(pool)
    keys = Keys(settings.key_prefix)
    stream = keys.jobs(pool.name)
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
        max_seconds=pool.max_seconds,
        max_output_bytes=pool.max_output_bytes,
    )
    leases = Leases(redis, stream, settings.worker_id, settings.lease_seconds)
    draining = asyncio.Event()

    async def execute(message_id: str, envelope: JobEnvelope) -> bool:
        """Run one delivered job; True when its entry may be acknowledged."""
        if draining.is_set():
            await leases.hand_back(message_id)
            return False
        leases.hold(message_id, envelope.id)
        try:
            await runner.run(envelope)
        except JobLost as exc:
            log.warning("job %s lost (%s)", envelope.id, exc)
            return not exc.fenced  # a fenced entry belongs to the worker that took it over
        except asyncio.CancelledError:
            await asyncio.shield(leases.hand_back(message_id))
            raise
        finally:
            leases.release(message_id)
        return True

    async def acknowledge(message_id: str) -> None:
        # Ours, retried across a Redis blip: a job that ended must not wait for the reaper.
        await with_retry(lambda: redis.xack(stream, GROUP, message_id), 30)

    async def run_claimed(message_id: str, envelope: JobEnvelope) -> None:
        if await execute(message_id, envelope):
            await acknowledge(message_id)

    reaper = Reaper(
        redis,
        keys,
        pool.name,
        settings.worker_id,
        run_claimed,
        lease_seconds=settings.lease_seconds,
        max_deliveries=settings.max_deliveries,
        retention_seconds=settings.event_retention_seconds,
        slots=concurrency,
    )
    broker = RedisBroker(settings.redis_url, logger=log)
    subscriber = broker.subscriber(
        stream=StreamSub(
            stream,
            group=GROUP,
            consumer=settings.worker_id,
            polling_interval=settings.polling_interval_ms,
        ),
        max_workers=concurrency,
        title=f"jobs:{pool.name}",
    )

    @subscriber
    async def handle(body: JobEnvelope, message: RedisStreamMessage) -> None:
        raw_id = message.raw_message["message_ids"][0]
        message_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        if not await execute(message_id, body):
            raise NackMessage()
        await acknowledge(message_id)  # FastStream acknowledges again: a no-op

    heartbeat = Heartbeat(redis, keys, pool, engine, settings, leases)
    tasks: dict[str, asyncio.Task[None]] = {}

    async def startup() -> None:
        # Ours replace FastStream's handlers before the model loads: a signal during a slow
        # start stops the worker for good instead of looking like FastStream stopping it.
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, app.on_signal)
        await engine.load()
        await ensure_group(redis, stream)
        await heartbeat.publish_limits()
        log.info(
            "worker %s serving pool %s (%s engine, concurrency %d)",
            settings.worker_id,
            pool.name,
            pool.engine,
            concurrency,
        )

    async def after_startup() -> None:
        tasks["heartbeat"] = asyncio.create_task(heartbeat.run_forever())
        tasks["reaper"] = asyncio.create_task(reaper.run_forever(settings.reaper_interval_seconds))

    async def shutdown() -> None:
        draining.set()
        if reaper_task := tasks.get("reaper"):
            reaper_task.cancel()  # no new claims; jobs it runs are leases like any other
        await leases.drain(settings.shutdown_grace_seconds)

    async def after_shutdown() -> None:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        with contextlib.suppress(Exception):
            await heartbeat.leave()
        await redis.aclose()

    app = WorkerApp(
        broker,
        on_startup=[startup],
        after_startup=[after_startup],
        on_shutdown=[shutdown],
        after_shutdown=[after_shutdown],
    )
    return app
