"""A backlog drained by one consumer process: the backlog is queued first, then the consumer
is started, and its rate and CPU are taken from its first finished job to its last (so its
start-up is not counted)."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from contracts.keys import Keys
from tests.bench.machine import cpu_seconds
from tests.bench.stats import BenchFailure
from tests.bench.wsclient import chat_request
from tests.support.stack import Edge, Process
from tests.support.wait import async_wait_for

SUBMITTERS = 32
"""Concurrent POSTs that queue a backlog through the edge."""
DRAIN_TIMEOUT = 120.0


@dataclass(frozen=True)
class Drained:
    """What one consumer did between its first finished job and its last."""

    jobs: int
    seconds: float
    cpu_seconds: float

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_ms_per_job(self) -> float:
        return 1000 * self.cpu_seconds / self.jobs


@dataclass(frozen=True)
class _Sample:
    at: float
    done: int
    cpu: float


async def follow(process: Process, done: Callable[[], Awaitable[int]], total: int) -> Drained:
    """Poll `done` (jobs finished so far) until it reaches `total`, sampling the CPU time of
    `process` at each poll; measure from the first poll that saw a finished job."""
    samples: list[_Sample] = []

    async def drained() -> bool:
        if not process.alive():
            raise BenchFailure(f"{process.name} exited:\n{process.log()[-4000:]}")
        count = await done()
        samples.append(_Sample(time.perf_counter(), count, cpu_seconds(process.popen.pid)))
        return count >= total

    await async_wait_for(drained, DRAIN_TIMEOUT, f"{process.name} to finish {total} jobs")
    first = next(sample for sample in samples if sample.done > 0)
    last = samples[-1]
    if last.done - first.done < total // 2:
        raise BenchFailure(f"{process.name}: too few jobs measured ({first} .. {last})")
    return Drained(last.done - first.done, last.at - first.at, last.cpu - first.cpu)


async def queue_through_edge(
    edge: Edge, pool: str, api_keys: Sequence[str], jobs: int, tokens: int
) -> None:
    """POST `jobs` jobs of `tokens` tokens to `pool`, the n-th as the n-th key's user (in
    turn); each must be answered 202."""
    pending = iter(range(jobs))

    async def submitter(http: httpx.AsyncClient) -> None:
        for n in pending:
            headers = {"Authorization": f"Bearer {api_keys[n % len(api_keys)]}"}
            answer = await http.post("/v1/jobs", json=chat_request(pool, tokens), headers=headers)
            if answer.status_code != 202:
                raise BenchFailure(f"POST /v1/jobs answered {answer.status_code}: {answer.text}")

    limits = httpx.Limits(max_connections=SUBMITTERS)
    http = httpx.AsyncClient(base_url=edge.url, limits=limits, timeout=30)
    async with http, asyncio.TaskGroup() as group:
        for _ in range(SUBMITTERS):
            group.create_task(submitter(http))


async def ended_jobs(redis: Redis, keys: Keys, pool: str) -> int:
    """Jobs of `pool` that succeeded, from its per-shard stats; raises if any did not."""
    async with redis.pipeline(transaction=False) as pipe:
        for shard in range(keys.shards):
            pipe.hgetall(keys.pool_stats(pool, shard))
        stats: list[dict[bytes, bytes]] = await pipe.execute()
    ended = [(name, int(count)) for shard in stats for name, count in shard.items()]
    if failed := [(name, count) for name, count in ended if name != b"succeeded"]:
        raise BenchFailure(f"jobs of {pool} that did not succeed: {failed}")
    return sum(count for _, count in ended)
