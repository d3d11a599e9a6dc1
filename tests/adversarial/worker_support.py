"""Helpers for the worker-limit attacks: pools with small limits, jobs that reach the workers
without the edge's checks (what a worker must survive whatever the contract lets through),
and clients that follow a job with a deadline."""

import asyncio
import json
import time
from typing import Any

import httpx
from redis.asyncio import Redis

from contracts.jobs import TERMINAL_STATUSES, JobRequest
from contracts.pools import PoolConfig, load_pools
from edge.store import JobStore
from tests.support.stack import POOLS_FILE, Edge, Stack, auth

# Pools of the real tiny model (never stopping at its end token) and of the real embeddings
# model, with limits small enough to reach in a test.
LIMITED_POOLS = """
[pools.chat-brief]
kind = "chat"
engine = "transformers"
model = "relayline-tiny-chat"
max_seconds = 1
options = { threads = 1, ignore_eos = true }

[pools.chat-capped]
kind = "chat"
engine = "transformers"
model = "relayline-tiny-chat"
max_output_bytes = 1024
options = { threads = 1, ignore_eos = true }

[pools.embed-capped]
kind = "embeddings"
engine = "embeddings"
model = "all-MiniLM-L6-v2"
max_output_bytes = 65536
options = { batch_size = 8 }
"""

QUESTION = [{"role": "user", "content": "What is a relay?"}]


def use_limited_pools(stack: Stack) -> None:
    """The test pools plus `LIMITED_POOLS`, for every process the stack starts from now on."""
    path = stack.workdir / "pools.toml"
    path.write_text(POOLS_FILE.read_text() + LIMITED_POOLS)
    stack.pools_file = path


class UncheckedStore(JobStore):
    """Writes jobs exactly as the edge does, minus its checks: what reaches a worker when the
    contract lets a value through (or another writer queues jobs)."""

    async def validate(self, request: JobRequest) -> PoolConfig:
        return self.pool_for(request.model)


async def inject(stack: Stack, model: str, input: Any, params: dict[str, Any]) -> str:
    redis = Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        store = UncheckedStore(
            redis,
            stack.keys,
            load_pools(stack.pools_file),
            retention_seconds=600,
            idempotency_ttl_seconds=600,
        )
        request = JobRequest.model_construct(
            model=model, input=input, params=params, idempotency_key=None
        )
        job_id, _ = await store.submit("alice", request)
        return job_id
    finally:
        await redis.aclose()


async def submit(edge: Edge, user: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{edge.url}/v1/jobs", json=body, headers=auth(user))


async def record(edge: Edge, job_id: str, user: str = "alice") -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{edge.url}/v1/jobs/{job_id}", headers=auth(user))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def ended(
    edge: Edge, job_id: str, user: str = "alice", timeout: float = 60
) -> dict[str, Any]:
    """The job's record once it ended; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (job := await record(edge, job_id, user))["status"] not in TERMINAL_STATUSES:
        assert time.monotonic() < deadline, f"job {job_id} did not end: {job}"
        await asyncio.sleep(0.1)
    return job


async def follow(edge: Edge, job_id: str, user: str) -> list[dict[str, Any]]:
    """Every event of a job over SSE (keys in a header, never in the URL), until `job-end`."""
    events: list[dict[str, Any]] = []
    url = f"{edge.url}/v1/jobs/{job_id}/events"
    async with (
        httpx.AsyncClient(timeout=60) as client,
        client.stream("GET", url, headers=auth(user)) as response,
    ):
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["type"] == "job-end":
                    break
    return events


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(event["delta"] for event in events if event["type"] == "text-delta")


def assert_streamed_to_the_end(events: list[dict[str, Any]], status: str = "succeeded") -> None:
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "job-end", events[-1]
    assert events[-1]["status"] == status, events[-1]
