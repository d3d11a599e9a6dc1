"""The default chat model (relayline-tiny-chat, shipped in the repository) through the whole
stack: edge, Redis, a real worker process, WebSocket and the official openai client."""

import asyncio
import json
import pydoc_data.topics
import re

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.support.client import assert_complete, submit, ws_connect, ws_events_until_end, ws_follow
from tests.support.openai_clients import openai_client
from tests.support.stack import Stack, auth

pytestmark = [pytest.mark.integration, pytest.mark.models]

QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Tell me about the for statement."}
]
DOCS_WORDS = set(re.findall(r"[a-z]+", " ".join(pydoc_data.topics.topics.values()).lower()))


def reads_as_english_about_python(text: str) -> bool:
    """Most words are words of the documentation the model learnt from (a made-up word now
    and then is what a 4-million-parameter model does)."""
    words = re.findall(r"[a-z]+", text.lower())
    return len(words) >= 20 and sum(word in DOCS_WORDS for word in words) / len(words) > 0.85


def test_the_default_model_streams_through_the_stack_and_the_openai_client(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("chat")
    job_id = submit(
        edge,
        model="chat",
        input={"messages": QUESTION},
        params={"max_tokens": 40, "seed": 1, "temperature": 0.7},
    )
    events = asyncio.run(ws_follow(edge, job_id))
    assert_complete(events)
    end = events[-1]
    assert end["status"] == "succeeded"
    text = "".join(event["delta"] for event in events if event["type"] == "text-delta")
    assert text == end["output"]["text"]
    assert 0 < end["usage"]["completion_tokens"] <= 40
    assert end["usage"]["prompt_tokens"] > 5

    api = openai_client(edge.url)
    answers = [text] + [
        api.chat.completions.create(
            model="chat", messages=QUESTION, max_tokens=40, seed=seed, temperature=0.7
        )
        .choices[0]
        .message.content
        or ""
        for seed in (2, 3, 4, 5)
    ]
    assert reads_as_english_about_python(" ".join(answers)), answers
    whole = api.chat.completions.create(
        model="chat", messages=QUESTION, max_tokens=40, seed=1, temperature=0.7
    )
    assert whole.choices[0].message.content == text  # the same seed gives the same answer
    chunks = list(
        api.chat.completions.create(
            model="chat", messages=QUESTION, max_tokens=40, seed=1, temperature=0.7, stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text

    words = text.split()
    stop = words[len(words) // 2]
    stopped = api.chat.completions.create(
        model="chat", messages=QUESTION, max_tokens=40, seed=1, temperature=0.7, stop=[stop]
    )
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].message.content == text[: text.index(stop)]


def test_a_prompt_longer_than_the_context_is_refused_before_it_is_queued(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("chat")  # publishes its context (512 tokens) and tokenizer on start
    long_prompt = " ".join(["The for statement iterates over a sequence."] * 80)
    body = {"model": "chat", "input": {"messages": [{"role": "user", "content": long_prompt}]}}
    response = httpx.post(f"{edge.url}/v1/jobs", json=body, headers=auth())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert "512" in response.json()["error"]["message"]
    api = openai_client(edge.url)
    with pytest.raises(openai.BadRequestError) as refused:
        api.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": long_prompt}]
        )
    assert isinstance(refused.value.body, dict)
    assert refused.value.body["code"] == "context_length_exceeded"
    # Room for the prompt but not for the tokens asked: refused too.
    fits = {"model": "chat", "input": {"messages": QUESTION}, "params": {"max_tokens": 600}}
    assert httpx.post(f"{edge.url}/v1/jobs", json=fits, headers=auth()).status_code == 400
    assert all(stack.redis().xlen(s) == 0 for s in stack.keys.job_streams("chat"))


async def test_cancel_stops_generation_and_the_worker_takes_the_next_job(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("chat-long", env={"WORKER_COALESCE_MS": "0"})
    long_job = submit(
        edge, model="chat-long", input={"messages": QUESTION}, params={"max_tokens": 500}
    )
    next_job = submit(
        edge, model="chat-long", input={"messages": QUESTION}, params={"max_tokens": 3}
    )
    async with ws_connect(edge) as connection:
        await connection.send(json.dumps({"type": "subscribe", "job_id": long_job}))
        head = await ws_events_until_end(connection, long_job, limit=8)
        cancel = await asyncio.to_thread(
            httpx.post, f"{edge.url}/v1/jobs/{long_job}/cancel", headers=auth()
        )
        assert cancel.status_code == 202
        rest = await ws_events_until_end(connection, long_job)
    events = head + rest
    assert_complete(events)
    assert events[-1]["status"] == "cancelled"
    # One token per event here; counted from the log's last seq when the cancel was recorded,
    # the model stopped within a token or two.
    cancelled_at = cancel.json()["last_seq"]
    after_cancel = [e for e in events if e["type"] == "text-delta" and e["seq"] > cancelled_at]
    assert len(after_cancel) <= 2
    following = await ws_follow(edge, next_job)
    assert following[-1]["status"] == "succeeded"
    start = next(event for event in following if event["type"] == "job-start")
    # The only worker (concurrency 1) took the next job right after the cancel, long before the
    # ~490 tokens left of the cancelled one could have been generated.
    assert start["ts"] - events[-1]["ts"] < 5
