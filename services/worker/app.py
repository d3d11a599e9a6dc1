"""The worker process: a FastStream app serving one pool.

A pool has one job stream per shard. The worker creates the consumer group of each from id 0
(jobs queued before any worker started are not skipped), loads the engine, then reads every
shard stream through its group, taking only what it can run: `concurrency` jobs at once over
all shards (see `worker.intake`). A job is acknowledged only after its `job-end` is written.
Alongside: heartbeats (which also renew the leases of running jobs and recreate the groups
after a Redis restart), and the reaper (which takes over jobs of dead workers and jobs handed
back by draining ones). On SIGTERM it stops reading, lets running jobs finish for
`shutdown_grace_seconds`, and hands the rest back to the other workers at once.
"""

import asyncio
import contextlib
import logging
import signal
from enum import Enum
from typing import Any, cast

from faststream import FastStream
from faststream.redis import StreamSub
from redis.asyncio import Redis

from contracts.batch import ScriptBatch
from contracts.connect import connect
from contracts.durability import Durability
from contracts.eventlog import Started
from contracts.jobs import JobEnvelope
from contracts.keys import GROUP, Keys
from contracts.layout import LayoutMismatch, check_layout
from contracts.pools import load_pools
from contracts.queue import PoolQueues
from worker.broker import broker_for
from worker.engines.registry import Registry, default_registry
from worker.errors import JobLost
from worker.heartbeat import Heartbeat, ensure_groups
from worker.intake import QueueOfShard, shard_reader
from worker.leases import Entry, Leases
from worker.metrics import PoolMetrics, serve_metrics
from worker.reaper import Reaper
from worker.retry import with_retry
from worker.runner import JobRunner
from worker.settings import Settings
from worker.slots import Slots

log = logging.getLogger("relayline.worker")


class WorkerApp(FastStream):
    """A FastStream app that remembers whether a signal stopped it. FastStream also stops
    an app by itself, e.g. when its consumer group vanished (a Redis restart without
    persistence) before the heartbeat recreated it; `relayline worker` then starts a new one."""

    signalled = False

    def on_signal(self) -> None:
        self.signalled = True
        self.exit()

    async def run(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().run(*args, **kwargs)
        except LayoutMismatch as exc:  # a setting to change: its message, not a traceback
            raise SystemExit(str(exc)) from None


class Outcome(Enum):
    """What becomes of a delivered job's entry once the worker is done with it."""

    acknowledged = "acknowledged"
    """The job ended, and its `job-end` acknowledged the entry in the same script."""
    done = "done"
    """Nothing more to run (the job had ended, or was lost): acknowledge it."""
    keep = "keep"
    """Another worker runs it (handed back, or fenced): leave it pending."""


class Worker:
    """One pool's worker: its Redis client, runner, leases, reaper and heartbeat, and the
    lifecycle FastStream calls (`startup`, `after_startup`, `shutdown`, `after_shutdown`)."""

    def __init__(self, settings: Settings, registry: Registry | None = None) -> None:
        pools = load_pools(settings.pools_file)
        pool = pools.get(settings.pool)
        if pool is None:
            known = ", ".join(sorted(pools.pools))
            raise SystemExit(f"no pool {settings.pool!r} in {settings.pools_file}; known: {known}")
        self.settings = settings
        self.pool = pool
        self.engine = (registry or default_registry()).create(pool)
        self.keys = keys = Keys(settings.key_prefix, settings.shards)
        self.streams = keys.job_streams(pool.name)
        self.concurrency = settings.concurrency or pool.concurrency
        self.slots = Slots(self.concurrency, settings.batch_aging_seconds)
        # A blocking pool: many concurrent jobs wait for a connection instead of failing.
        self.redis = redis = cast(
            Redis, connect(settings.redis_url, max_connections=settings.redis_max_connections)
        )
        # Takes and every job's writes of one turn of the loop go in one pipeline.
        batch = ScriptBatch(redis)
        self.runner = JobRunner(
            redis,
            keys,
            self.engine,
            settings.worker_id,
            coalesce_seconds=settings.coalesce_ms / 1000,
            cancel_poll_seconds=settings.cancel_poll_seconds,
            retention_seconds=settings.event_retention_seconds,
            max_seconds=pool.max_seconds,
            max_output_bytes=pool.max_output_bytes,
            durability=Durability(settings.redis_wait_replicas, settings.redis_wait_timeout_ms),
            quota_window_seconds=settings.quota_window_seconds,
            batch=batch,
            metrics=PoolMetrics(pool.name),
        )
        self.queues = PoolQueues(
            redis,
            keys,
            pool.name,
            batch_aging=settings.batch_aging_seconds,
            batch=batch,
        )
        self.leases = Leases(redis, settings.worker_id, settings.lease_seconds)
        self.reaper = Reaper(
            redis,
            keys,
            pool.name,
            settings.worker_id,
            self.run_entry,
            slots=self.slots,
            leases=self.leases,
            lease_seconds=settings.lease_seconds,
            max_deliveries=settings.max_deliveries,
            retention_seconds=settings.event_retention_seconds,
        )
        self.heartbeat = Heartbeat(redis, keys, pool, self.engine, settings, self.leases)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.broker = broker_for(settings.redis_url)
        self.app = WorkerApp(
            self.broker,
            on_startup=[self.startup],
            after_startup=[self.after_startup],
            on_shutdown=[self.shutdown],
            after_shutdown=[self.after_shutdown],
        )
        self._subscribe()

    def _subscribe(self) -> None:
        """One reader per shard stream, all on this worker's slots (see `worker.intake`)."""
        for shard, stream in enumerate(self.streams):
            reader = shard_reader(
                self.broker,
                StreamSub(
                    stream,
                    group=GROUP,
                    consumer=self.settings.worker_id,
                    polling_interval=self.settings.polling_interval_ms,
                ),
                slots=self.slots,
                queue=QueueOfShard(self.queues, shard),
                run=self.run_entry,
                title=f"jobs:{self.pool.name}:{shard}",
            )
            reader(describe_job)

    async def execute(
        self, entry: Entry, envelope: JobEnvelope, started: Started | None = None
    ) -> "Outcome":
        """Run one delivered job; what becomes of its entry. A job whose attempt its take
        began runs even when the worker began draining: the drain waits for it as for any
        running job (handed back, the job would show its clients a `job-reset`)."""
        if self.slots.closed and started is None:  # draining: another worker runs it
            await self.leases.hand_back(entry)
            return Outcome.keep
        self.leases.hold(entry, envelope.id)
        try:
            ended = await self.runner.run(envelope, entry.id, started)
        except JobLost as exc:
            log.warning("job %s lost (%s)", envelope.id, exc)
            # a fenced entry belongs to the worker that took it over
            return Outcome.keep if exc.fenced else Outcome.done
        except asyncio.CancelledError:
            await asyncio.shield(self.leases.hand_back(entry))
            raise
        finally:
            self.leases.release(entry)
        return Outcome.acknowledged if ended else Outcome.done

    async def acknowledge(self, entry: Entry) -> None:
        # Ours, on the entry's own shard stream, retried across a Redis blip: a job that
        # ended must not wait for the reaper.
        await with_retry(lambda: self.redis.xack(entry.stream, GROUP, entry.id), 30)

    async def run_entry(
        self, entry: Entry, envelope: JobEnvelope, started: Started | None = None
    ) -> None:
        """A job delivered to this worker: taken by a shard reader (which may have begun its
        attempt), or taken over by the reaper from a dead worker (or from a draining one that
        handed it back)."""
        if await self.execute(entry, envelope, started) is Outcome.done:
            await self.acknowledge(entry)

    async def startup(self) -> None:
        # Ours replace FastStream's handlers before the model loads: a signal during a slow
        # start stops the worker for good instead of looking like FastStream stopping it.
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, self.app.on_signal)
        await check_layout(self.redis, self.keys, "WORKER_SHARDS")
        await self.engine.load()
        await ensure_groups(self.redis, self.streams)
        await self.heartbeat.publish_limits()
        if self.settings.metrics_port is not None:
            slots = self.slots
            serve_metrics(
                self.pool.name,
                self.settings.metrics_port,
                self.settings.metrics_host,
                slots.size,
                lambda: slots.size - slots.free,
            )
        log.info(
            "worker %s serving pool %s (%s engine, concurrency %d, %d shards)",
            self.settings.worker_id,
            self.pool.name,
            self.pool.engine,
            self.concurrency,
            self.keys.shards,
        )

    async def after_startup(self) -> None:
        self.tasks["heartbeat"] = asyncio.create_task(self.heartbeat.run_forever())
        self.tasks["reaper"] = asyncio.create_task(
            self.reaper.run_forever(self.settings.reaper_interval_seconds)
        )

    async def shutdown(self) -> None:
        self.slots.close()  # the readers stop reading, the reaper stops claiming
        if reaper_task := self.tasks.get("reaper"):
            reaper_task.cancel()  # no new claims; jobs it runs are leases like any other
        await self.leases.drain(self.settings.shutdown_grace_seconds)

    async def after_shutdown(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.heartbeat.leave()
        await self.redis.aclose()


def describe_job(body: JobEnvelope) -> None:
    """The job streams' messages, as FastStream's AsyncAPI document describes them. Never
    called: readers hand jobs to `Worker.run_entry` (see `worker.intake`)."""


def create_worker(settings: Settings, registry: Registry | None = None) -> WorkerApp:
    return Worker(settings, registry).app
