"""How many paced streams one worker process carries: N jobs of 100 tokens at 50 tokens/s
(the simulated engine, pool `bench-stream`) started at once on one worker of concurrency
N, for N = 25, 50, 100, 200, ... up to the most `WORKER_CONCURRENCY` allows. The events are
read straight from Redis (one blocking `XREAD` over every log, in this process), so the
edge and WebSocket clients are out of the measure: the gap between two events of a job is
how late the worker wrote them, plus one read. A count passes when the inter-event gap
p99 (from each job's first `text-delta` to its `job-end`) is at most `GAP_LIMIT`."""

import asyncio
import itertools
import time
from collections.abc import Sequence
from typing import cast

import httpx
from pydantic.fields import FieldInfo
from redis.asyncio import Redis

from contracts.log import EVENT_FIELD
from tests.bench.machine import cpu_seconds
from tests.bench.stats import BenchFailure, Row, ms, percentile
from tests.bench.wsclient import chat_request
from tests.support.stack import Edge, Stack, auth
from worker.settings import Settings as WorkerSettings

POOL, TOKENS = "bench-stream", 100
GAP_LIMIT = 0.100
FIRST_STEP = 25
SUBMITS_AT_ONCE = 32
STEP_TIMEOUT = 60.0
END = '"type":"job-end"'
TEXT = '"type":"text-delta"'


def max_concurrency() -> int:
    """The most `WORKER_CONCURRENCY` allows (its `le` bound)."""
    field: FieldInfo = WorkerSettings.model_fields["concurrency"]
    bounds = [getattr(item, "le", None) for item in field.metadata]
    return min((bound for bound in bounds if bound is not None), default=1 << 16)


def steps(first: int = FIRST_STEP) -> list[int]:
    top = max_concurrency()
    return list(itertools.takewhile(lambda n: n <= top, (first << k for k in range(16))))


async def _submit(edge: Edge, count: int) -> list[str]:
    gate = asyncio.Semaphore(SUBMITS_AT_ONCE)
    async with httpx.AsyncClient(timeout=30) as http:

        async def one() -> str:
            async with gate:
                response = await http.post(
                    f"{edge.url}/v1/jobs", json=chat_request(POOL, TOKENS), headers=auth()
                )
            if response.status_code != 202:
                raise BenchFailure(f"POST /v1/jobs answered {response.status_code}")
            return cast(str, response.json()["id"])

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def _follow(stack: Stack, job_ids: Sequence[str]) -> list[float]:
    """Each job's gaps between arrivals, from its first `text-delta` to its `job-end`."""
    client = Redis.from_url(stack.redis_url, decode_responses=True)
    names = {stack.keys.events(job_id): job_id for job_id in job_ids}
    positions = dict.fromkeys(names, "0-0")
    arrivals: dict[str, list[float]] = {name: [] for name in names}
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            while positions:
                response = cast(
                    list[tuple[str, list[tuple[str, dict[str, str]]]]] | None,
                    await client.xread(positions, count=1000, block=1000),  # type: ignore[arg-type]
                )
                now = time.perf_counter()
                for stream, entries in response or ():
                    for entry_id, fields in entries:
                        positions[stream] = entry_id
                        data = fields[EVENT_FIELD]
                        if arrivals[stream] or TEXT in data:
                            arrivals[stream].append(now)
                        if END in data:
                            del positions[stream]
    finally:
        await client.aclose()
    return [b - a for times in arrivals.values() for a, b in itertools.pairwise(times)]


async def _step(stack: Stack, edge: Edge, count: int) -> tuple[float, float]:
    """(gap p99, worker CPU % of one core) of `count` streams on one new worker."""
    worker = stack.worker(POOL, env={"WORKER_CONCURRENCY": str(count)})
    try:
        cpu, began = cpu_seconds(worker.popen.pid), time.monotonic()
        job_ids = await _submit(edge, count)
        gaps = await _follow(stack, job_ids)
        used = 100 * (cpu_seconds(worker.popen.pid) - cpu) / (time.monotonic() - began)
    finally:
        worker.stop()
    return percentile(gaps, 99), used


async def capacity(stack: Stack, edge: Edge) -> list[Row]:
    scenario = (
        f"C. one worker process: N concurrent {TOKENS}-token streams at 50 tokens/s "
        f"(pass: inter-event gap p99 ≤ {GAP_LIMIT * 1000:.0f} ms)"
    )
    rows: list[Row] = []
    carried, counts = 0, steps()
    for count in counts:
        gap, used = await _step(stack, edge, count)
        verdict = "pass" if gap <= GAP_LIMIT else "fail"
        rows.append((scenario, f"N = {count}: gap p99, worker CPU", f"{ms(gap)}, {used:.0f}%"))
        rows.append((scenario, f"N = {count}", verdict))
        if verdict == "fail":
            break
        carried = count
    if carried == counts[-1]:
        top = max_concurrency()
        note = f"{carried} or more (the next step is past WORKER_CONCURRENCY's most, {top})"
    else:
        note = str(carried)
    rows.append((scenario, "streams one worker process carries", note))
    return rows
