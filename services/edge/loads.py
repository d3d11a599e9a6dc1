"""What each pool holds, summed over its shards: live workers, jobs waiting in its
queues, jobs running (delivered to a worker, not yet acknowledged), jobs ended so far. One
pipeline for every pool and shard, at most once a second per edge process (`SharedLoads`);
read by `GET /v1/models` and by `/metrics` (the gauges `relayline_pool_workers` and
`relayline_pool_jobs{state}`, which an autoscaler follows)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Gauge
from redis.asyncio import Redis

from contracts.jobs import Priority
from contracts.keys import GROUP, Keys
from contracts.pools import PoolConfig

POOL_WORKERS = Gauge(
    "relayline_pool_workers",
    "Workers of a pool with a recent heartbeat (at the last scrape)",
    ["pool"],
)
POOL_JOBS = Gauge(
    "relayline_pool_jobs",
    "Jobs of a pool at the last scrape: waiting in its queues by priority, or running",
    ["pool", "state"],
)


@dataclass(frozen=True, slots=True)
class PoolLoad:
    pool: PoolConfig
    workers: int
    waiting: dict[Priority, int]
    running: int
    done: int

    @property
    def queued(self) -> int:
        """Jobs not ended: waiting or running."""
        return sum(self.waiting.values()) + self.running


async def pool_loads(
    redis: Redis, keys: Keys, pools: list[PoolConfig], live_seconds: float
) -> list[PoolLoad]:
    live_since = time.time() - live_seconds
    shards = range(keys.shards)
    async with redis.pipeline(transaction=False) as pipe:
        for pool in pools:
            pipe.zcount(keys.workers(pool.name), live_since, "+inf")
            for shard in shards:
                pipe.xinfo_groups(keys.jobs(pool.name, shard))
                pipe.hvals(keys.pool_stats(pool.name, shard))
                for priority in Priority:
                    pipe.zcard(keys.waiting(pool.name, shard, priority))
        answers = await pipe.execute(raise_on_error=False)
    loads, per_shard = [], 2 + len(Priority)
    per_pool = 1 + per_shard * keys.shards
    for index, pool in enumerate(pools):
        workers, *shard_answers = answers[per_pool * index : per_pool * (index + 1)]
        streams, stats = shard_answers[::per_shard], shard_answers[1::per_shard]
        waiting = {
            priority: sum(_count(n) for n in shard_answers[2 + rank :: per_shard])
            for rank, priority in enumerate(Priority)
        }
        loads.append(
            PoolLoad(
                pool=pool,
                workers=_count(workers),
                waiting=waiting,
                running=sum(map(_running, streams)),
                done=sum(map(_done, stats)),
            )
        )
    return loads


def export(loads: list[PoolLoad]) -> None:
    """Set the gauges from `loads`."""
    for load in loads:
        name = load.pool.name
        POOL_WORKERS.labels(name).set(load.workers)
        POOL_JOBS.labels(name, "running").set(load.running)
        for priority, count in load.waiting.items():
            POOL_JOBS.labels(name, f"waiting_{priority.value}").set(count)


class SharedLoads:
    """The pools' loads for `GET /v1/models` and `/metrics`, which clients may ask for as often
    as they like, though one read costs Redis 1 + 4 x shards commands per pool (some 200 for
    six pools of eight shards). So an edge process reads them at most once per `min_seconds`,
    however many requests come at once: they share the read in flight, its loads or its
    failure (a Redis that does not answer costs each of them one wait, not one each in
    turn), and later ones get its loads until they are `min_seconds` old. Each read also
    sets the gauges."""

    def __init__(
        self, read: Callable[[], Awaitable[list[PoolLoad]]], min_seconds: float = 1.0
    ) -> None:
        self._read = read
        self.min_seconds = min_seconds
        self._loads: list[PoolLoad] = []
        self._at = float("-inf")
        self._reading: asyncio.Task[list[PoolLoad]] | None = None

    async def current(self) -> list[PoolLoad]:
        if time.monotonic() - self._at < self.min_seconds:
            return self._loads
        if self._reading is None:
            self._reading = asyncio.create_task(self._read_once())
            # a failure every caller left before it came is not an unretrieved exception
            self._reading.add_done_callback(lambda read: read.cancelled() or read.exception())
        # shielded: one client leaving must not cancel the read the others wait for
        return await asyncio.shield(self._reading)

    async def _read_once(self) -> list[PoolLoad]:
        try:
            loads = await self._read()
        finally:
            self._reading = None
        self._loads, self._at = loads, time.monotonic()
        export(loads)
        return loads


def _count(answer: object) -> int:
    return answer if isinstance(answer, int) else 0


def _done(stats: object) -> int:
    return sum(int(count) for count in stats) if isinstance(stats, list) else 0


def _running(groups: object) -> int:
    """Jobs in a job stream delivered and not acknowledged (`pending`), plus any not yet read
    by a worker (`lag`, Redis 7+: entries an older release queued)."""
    if not isinstance(groups, list):
        return 0
    for group in groups:
        if group.get("name") == GROUP:
            lag = group.get("lag")
            return int(group.get("pending", 0)) + (int(lag) if lag is not None else 0)
    return 0
