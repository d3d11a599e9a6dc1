"""Attacks on the workers and the pools, each run while a second user streams a job: params
and input that make an engine fail, jobs that run too long or produce too much, and prompts
too large to count on the event loop. Each attack is refused or ends its own job, and the
second user's job streams to `job-end`."""

import asyncio
from typing import Any

import httpx
import pytest

from tests.adversarial.worker_support import (
    QUESTION,
    assert_streamed_to_the_end,
    ended,
    follow,
    inject,
    streamed_text,
    submit,
    use_limited_pools,
)
from tests.support.stack import Edge, Stack, auth

pytestmark = [pytest.mark.integration, pytest.mark.models, pytest.mark.solo]

DEADLINE = 60
"""Seconds the second user's job may take to stream to its end (it needs a few)."""

FLOOD_DEADLINE = 30
"""Seconds for a flood of 64 large prompts to be refused while bob's job streams to its end.
Refused from their length, they take a second or two; counted on the event loop, each would
stall the edge for about a second, and the flood would end long after this."""

POISON: list[tuple[Any, dict[str, Any]]] = [
    ({"messages": QUESTION}, {"seed": 2**64}),
    ({"messages": QUESTION}, {"seed": -(2**64)}),
    ({"messages": QUESTION}, {"seed": 2**63}),
    ({"messages": QUESTION}, {"max_tokens": 2**64}),
    ({"messages": QUESTION}, {"max_tokens": -1}),
    ({"messages": QUESTION}, {"temperature": -1.0}),
    ({"messages": QUESTION}, {"top_p": 0}),
    ({"messages": QUESTION}, {"stop": [1, 2]}),
    ({"messages": QUESTION}, {"max_tokens": 32768}),
    ({"messages": "not a list"}, {}),
    ({"messages": [{"role": "root", "content": "hi"}]}, {}),
    ({"texts": ["chat input of the wrong kind"]}, {}),
]


async def bob_streams(edge: Edge, model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = await submit(edge, "bob", {"model": model, **body})
    assert response.status_code == 202, response.text
    return await follow(edge, response.json()["id"], "bob")


async def test_poison_params_end_their_jobs_and_the_chat_pool_serves_the_next(
    stack: Stack,
) -> None:
    edge = stack.edge()
    stack.worker("chat")  # one slot: a job that never ended would hold the pool forever
    attack = await submit(
        edge, "alice", {"model": "chat", "input": {"messages": QUESTION}, "params": {"seed": 2**64}}
    )
    assert attack.status_code in (202, 422), attack.text  # refused by the contract, or run
    poisoned = [attack.json()["id"]] if attack.status_code == 202 else []
    for job_input, params in POISON:  # what reaches a worker whatever the edge lets through
        poisoned.append(await inject(stack, "chat", job_input, params))
    bob = await asyncio.wait_for(
        bob_streams(edge, "chat", {"input": {"messages": QUESTION}, "params": {"max_tokens": 8}}),
        DEADLINE,
    )
    assert_streamed_to_the_end(bob)
    for job_id in poisoned:  # all ran before bob's job: the pool has one slot
        job = await ended(edge, job_id, timeout=5)
        assert job["status"] == "failed", job
        assert job["error"]["code"] in ("invalid_request", "context_length_exceeded"), job


async def test_a_job_past_max_seconds_ends_timeout_and_frees_its_slot(stack: Stack) -> None:
    use_limited_pools(stack)
    edge = stack.edge()
    stack.worker("chat-brief")  # one slot, max_seconds = 1
    long = await submit(
        edge,
        "alice",
        {"model": "chat-brief", "input": {"messages": QUESTION}, "params": {"max_tokens": 490}},
    )
    assert long.status_code == 202, long.text
    # Bob's job waits for the only slot; it has one second to run too, so it succeeds only
    # if the timed-out generation really stopped and left the model's thread to him.
    bob = await asyncio.wait_for(
        bob_streams(
            edge, "chat-brief", {"input": {"messages": QUESTION}, "params": {"max_tokens": 3}}
        ),
        DEADLINE,
    )
    assert_streamed_to_the_end(bob)
    job = await ended(edge, long.json()["id"], timeout=5)
    assert job["status"] == "failed" and job["error"]["code"] == "timeout", job


async def test_output_caps_end_chat_with_length_and_refuse_large_embeddings(
    stack: Stack,
) -> None:
    use_limited_pools(stack)
    edge = stack.edge()
    stack.worker("chat-capped")  # max_output_bytes = 1024
    stack.worker("embed-capped")  # max_output_bytes = 65536
    texts = [f"text number {index} about relays" for index in range(64)]  # ~8 KB a vector
    embeddings = await submit(edge, "alice", {"model": "embed-capped", "input": {"texts": texts}})
    assert embeddings.status_code == 202, embeddings.text
    bob = await asyncio.wait_for(
        bob_streams(edge, "embed-capped", {"input": {"texts": ["a relay", "a line"]}}), DEADLINE
    )
    assert_streamed_to_the_end(bob)
    job = await ended(edge, embeddings.json()["id"], timeout=DEADLINE)
    assert job["status"] == "failed" and job["error"]["code"] == "output_too_large", job
    assert job["output"] is None
    client = stack.redis()
    stored = sum(
        client.memory_usage(key) or 0
        for key in (stack.keys.job(job["id"]), stack.keys.events(job["id"]))
    )
    assert stored < 65536, f"{stored} bytes kept for a refused output"
    async with httpx.AsyncClient(timeout=DEADLINE) as http:
        refused = await http.post(
            f"{edge.url}/v1/embeddings",
            json={"model": "embed-capped", "input": texts},
            headers=auth("alice"),
        )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "output_too_large"

    chat = await asyncio.wait_for(
        bob_streams(
            edge, "chat-capped", {"input": {"messages": QUESTION}, "params": {"max_tokens": 490}}
        ),
        DEADLINE,
    )
    assert_streamed_to_the_end(chat)
    output = chat[-1]["output"]
    assert output["finish_reason"] == "length"  # what OpenAI clients expect of a cut answer
    assert streamed_text(chat) == output["text"]
    assert 900 < len(output["text"].encode()) <= 1024
    async with httpx.AsyncClient(timeout=DEADLINE) as http:
        completion = await http.post(
            f"{edge.url}/v1/chat/completions",
            json={"model": "chat-capped", "messages": QUESTION, "max_tokens": 490},
            headers=auth("bob"),
        )
    assert completion.status_code == 200, completion.text
    assert completion.json()["choices"][0]["finish_reason"] == "length"


async def test_a_flood_of_large_prompts_is_refused_without_stalling_other_streams(
    stack: Stack,
) -> None:
    edge = stack.edge()
    stack.worker("chat")  # publishes the model's context and tokenizer for the edge
    bob_job = await submit(
        edge,
        "bob",
        {"model": "chat", "input": {"messages": QUESTION}, "params": {"max_tokens": 64}},
    )
    assert bob_job.status_code == 202, bob_job.text
    bob = asyncio.create_task(follow(edge, bob_job.json()["id"], "bob"))
    # 400 KB prompts: under the input cap, far over the context; and some over the input cap.
    large = {
        "model": "chat",
        "input": {"messages": [{"role": "user", "content": "relay " * 66_000}]},
    }
    oversized = {
        "model": "chat",
        "input": {"messages": [{"role": "user", "content": "x" * 600_000}]},
    }

    async def flood(sender: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=DEADLINE) as client:
            return [
                await client.post(
                    f"{edge.url}/v1/jobs",
                    json=oversized if (sender + attempt) % 8 == 0 else large,
                    headers=auth("alice"),
                )
                for attempt in range(8)
            ]

    async def attack() -> list[httpx.Response]:
        batches = await asyncio.gather(*(flood(sender) for sender in range(8)))
        return [response for batch in batches for response in batch]

    responses, events = await asyncio.wait_for(asyncio.gather(attack(), bob), FLOOD_DEADLINE)
    assert_streamed_to_the_end(events)
    codes = {(response.status_code, response.json()["error"]["code"]) for response in responses}
    refused = {(400, "context_length_exceeded"), (413, "input_too_large")}
    assert refused <= codes <= refused | {(429, "rate_limited")}, codes  # a rate limit may cut in
    assert len(responses) == 64
    async with httpx.AsyncClient(timeout=10) as client:
        listed = await client.get(f"{edge.url}/v1/jobs", headers=auth("alice"))
    assert listed.json()["data"] == []  # nothing of the flood was queued
