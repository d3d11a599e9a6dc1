"""Filling Redis with stored output: one user submits embeddings jobs of many texts (each
stores megabytes of vectors in its record for a whole retention) until its budget of stored
output refuses it with `429 storage_quota`, while a second user streams a job. The first
user's records stay within its budget plus one job's largest output; the second user's job
streams to `job-end`, and the second user can still submit after the first is refused."""

import asyncio
from typing import Any

import httpx
import pytest

from contracts.pools import load_pools
from tests.adversarial.worker_support import (
    assert_streamed_to_the_end,
    ended,
    follow,
    submit,
)
from tests.support.stack import POOLS_FILE, Edge, Stack, auth

pytestmark = [pytest.mark.integration, pytest.mark.models, pytest.mark.solo]

BUDGET = 8 << 20
"""alice's budget of stored output (bytes): a few jobs' worth."""
TEXTS = ["a"] * 256
"""One job's input: 256 one-letter texts, about 2 MB of vectors stored."""
MOST_JOBS = 20
"""Without a budget, this many jobs store about 40 MB: far past budget + one job."""
DEADLINE = 60
"""Seconds bob's job may take to stream to its end while alice floods."""


async def flood(edge: Edge) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    """alice's jobs, one after another, until refused: their ids, the refusal's body and
    headers. Fails if she is never refused."""
    admitted: list[str] = []
    for _ in range(MOST_JOBS):
        response = await submit(edge, "alice", {"model": "embed", "input": {"texts": TEXTS}})
        if response.status_code == 429:
            return admitted, response.json(), dict(response.headers)
        assert response.status_code == 202, response.text
        admitted.append(response.json()["id"])
        job = await ended(edge, admitted[-1], "alice", timeout=120)
        assert job["status"] == "succeeded", job
    raise AssertionError(f"{MOST_JOBS} jobs of {len(TEXTS)} texts were never refused")


async def bob_streams(edge: Edge) -> list[dict[str, Any]]:
    body = {"model": "sim", "input": {"messages": [{"role": "user", "content": "hi"}]}}
    response = await submit(edge, "bob", {**body, "params": {"max_tokens": 8}})
    assert response.status_code == 202, response.text
    return await follow(edge, response.json()["id"], "bob")


def stored_bytes(stack: Stack, job_ids: list[str]) -> int:
    """Redis memory of these jobs' records and event logs."""
    client = stack.redis()
    try:
        total = 0
        for job_id in job_ids:
            for key in (stack.keys.job(job_id), stack.keys.events(job_id)):
                # SAMPLES 0: every field; the default samples 5 of a hash's fields and
                # multiplies, which counts a record's one large output several times.
                total += int(client.memory_usage(key, samples=0) or 0)
        return total
    finally:
        client.close()


async def test_a_user_filling_its_storage_budget_is_refused_while_another_streams(
    stack: Stack,
) -> None:
    edge = stack.edge(env={"EDGE_MAX_STORED_BYTES_PER_USER": str(BUDGET)})
    stack.worker("embed")
    stack.worker("sim")
    attack = asyncio.create_task(flood(edge))
    bob = await asyncio.wait_for(bob_streams(edge), DEADLINE)
    assert_streamed_to_the_end(bob)
    admitted, refusal, headers = await attack
    assert refusal["error"]["code"] == "storage_quota", refusal
    assert int(headers["retry-after"]) >= 1
    assert len(admitted) >= 2  # a budget of several jobs, not a refusal of everything
    one_job = load_pools(POOLS_FILE).pools["embed"].max_output_bytes
    assert stored_bytes(stack, admitted) <= BUDGET + one_job
    # alice stays refused; bob, with a budget of his own, is not
    again = await submit(edge, "alice", {"model": "embed", "input": {"texts": ["b"]}})
    assert again.status_code == 429 and again.json()["error"]["code"] == "storage_quota"
    async with httpx.AsyncClient(timeout=30) as client:  # OpenAI's shape on its routes
        openai = await client.post(
            f"{edge.url}/v1/embeddings", json={"model": "embed", "input": "b"}, headers=auth()
        )
    assert openai.status_code == 429 and "retry-after" in openai.headers
    assert openai.json()["error"]["code"] == "storage_quota"
    assert openai.json()["error"]["type"] == "rate_limit_error"
    assert_streamed_to_the_end(await asyncio.wait_for(bob_streams(edge), DEADLINE))
    job = await submit(edge, "bob", {"model": "embed", "input": {"texts": ["b"]}})
    assert job.status_code == 202, job.text
    assert (await ended(edge, job.json()["id"], "bob"))["status"] == "succeeded"
