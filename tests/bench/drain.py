"""A backlog drained by one consumer process: the backlog is queued first, then the consumer
is started, and its rate and CPU are taken from its first finished job to its last (so its
start-up is not counted)."""

import asyncio
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

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
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Drained:
    """What one consumer did between its first finished job and its last, and the CPU time
    it and the Redis server used meanwhile."""

    jobs: int
    seconds: float
    cpu_seconds: float
    redis_cpu_seconds: float

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_ms_per_job(self) -> float:
        return 1000 * self.cpu_seconds / self.jobs

    @property
    def redis_cpu_ms_per_job(self) -> float:
        return 1000 * self.redis_cpu_seconds / self.jobs


@dataclass(frozen=True)
class _Sample:
    at: float
    done: int
    cpu: float
    redis_cpu: float


async def follow(
    process: Process, done: Callable[[], Awaitable[int]], total: int, redis_pid: int | None
) -> Drained:
    """Poll `done` (jobs finished so far) until it reaches `total`, sampling the CPU time of
    `process` and of the Redis server (NaN without its pid) at each poll; measure from the
    first poll that saw a finished job."""
    samples: list[_Sample] = []

    async def drained() -> bool:
        if not process.alive():
            raise BenchFailure(f"{process.name} exited:\n{process.log()[-4000:]}")
        count = await done()
        redis = cpu_seconds(redis_pid) if redis_pid else math.nan
        samples.append(_Sample(time.perf_counter(), count, cpu_seconds(process.popen.pid), redis))
        return count >= total

    await async_wait_for(drained, DRAIN_TIMEOUT, f"{process.name} to finish {total} jobs")
    first = next(sample for sample in samples if sample.done > 0)
    last = samples[-1]
    if last.done - first.done < total // 2:
        raise BenchFailure(f"{process.name}: too few jobs measured ({first} .. {last})")
    return Drained(
        last.done - first.done,
        last.at - first.at,
        last.cpu - first.cpu,
        last.redis_cpu - first.redis_cpu,
    )


def _post(path: str, body: Any, api_key: str) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {api_key}\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _submitter(edge: Edge, requests: Iterator[bytes]) -> None:
    """POST each request on one kept-alive connection; each must be answered 202."""
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    try:
        for request in requests:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = _CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(length.group(1)) if length else 0)
            if not head.startswith(b"HTTP/1.1 202 "):
                raise BenchFailure(f"POST /v1/jobs answered {head!r} {body!r}")
    finally:
        writer.close()


async def queue_through_edge(
    edge: Edge, pool: str, api_keys: Sequence[str], jobs: int, tokens: int
) -> None:
    """POST `jobs` jobs of `tokens` tokens to `pool`, the n-th as the n-th key's user (in
    turn), from `SUBMITTERS` connections. A bare HTTP/1.1 client: httpx would cost the
    shared machine more CPU than the edge does."""
    bodies = [_post("/v1/jobs", chat_request(pool, tokens), key) for key in api_keys]
    requests = (bodies[n % len(bodies)] for n in range(jobs))
    async with asyncio.TaskGroup() as group:
        for _ in range(SUBMITTERS):
            group.create_task(_submitter(edge, requests))


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
