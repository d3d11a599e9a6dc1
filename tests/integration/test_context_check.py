"""The edge's prompt check against a real Redis: counting runs off the event loop, a byte
check refuses what cannot fit before any counting, and a job's input bytes are capped."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from contracts.jobs import ChatInput, ChatParams, JobRequest
from contracts.keys import Keys
from contracts.models import ModelLimits
from contracts.pools import ModelKind, PoolConfig, PoolsConfig
from edge.context import ContextChecker, _keeps_every_byte
from edge.errors import BadRequest, PayloadTooLarge
from edge.store import JobStore

pytestmark = pytest.mark.integration

TOKENIZER = Path(__file__).parents[2] / "services/worker/models/relayline-tiny-chat/tokenizer.json"


@pytest.fixture
async def redis(redis_server_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server_url, decode_responses=True)
    yield client
    await client.aclose()


async def checker_for(redis: Redis, max_context: int) -> ContextChecker:
    keys = Keys(f"c{uuid.uuid4().hex[:10]}:")
    limits = ModelLimits(max_context=max_context, tokenizer=TOKENIZER.read_text())
    await redis.set(keys.model_limits("chat"), limits.model_dump_json(), ex=60)
    return ContextChecker(redis, keys)


def chat(content: str) -> ChatInput:
    return ChatInput.model_validate({"messages": [{"role": "user", "content": content}]})


async def test_counting_a_large_prompt_leaves_the_event_loop_free(redis: Redis) -> None:
    checker = await checker_for(redis, max_context=10**7)  # no byte bound: it must be counted
    await checker.check_chat("chat", chat("warm"), ChatParams())  # the tokenizer is cached
    check = asyncio.create_task(checker.check_chat("chat", chat("relay " * 150_000), ChatParams()))
    pings = 0
    while not check.done():  # counting 900 KB takes ~a second; a ping a fraction of a ms
        await redis.ping()
        pings += 1
    await check
    assert pings > 1, "the event loop was blocked while the prompt was counted"


async def test_a_prompt_that_cannot_fit_is_refused_from_its_length_alone(redis: Redis) -> None:
    checker = await checker_for(redis, max_context=512)
    with pytest.raises(BadRequest) as refused:
        await checker.check_chat("chat", chat("relay " * 50_000), ChatParams())
    assert refused.value.code == "context_length_exceeded"
    assert "at least" in refused.value.message  # not counted: bounded from its bytes


async def test_prompts_near_the_context_are_counted_exactly(redis: Redis) -> None:
    checker = await checker_for(redis, max_context=512)
    await checker.check_chat("chat", chat("relay " * 100), ChatParams(max_tokens=10))
    with pytest.raises(BadRequest) as refused:
        await checker.check_chat("chat", chat("relay " * 600), ChatParams())
    assert "at least" not in refused.value.message  # short enough to be counted


def test_the_byte_bound_is_used_only_for_tokenizers_that_keep_every_byte() -> None:
    byte_level = {"normalizer": None, "pre_tokenizer": {"type": "ByteLevel"}}
    assert _keeps_every_byte(byte_level)
    split_then_bytes = {
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [{"type": "Split", "behavior": "Isolated"}, {"type": "ByteLevel"}],
        },
    }
    assert _keeps_every_byte(split_then_bytes)
    assert not _keeps_every_byte({**byte_level, "normalizer": {"type": "NFC"}})  # may drop
    assert not _keeps_every_byte({"normalizer": None, "pre_tokenizer": {"type": "Whitespace"}})
    assert not _keeps_every_byte({"normalizer": None, "pre_tokenizer": None})


@pytest.mark.parametrize(
    ("model", "kind", "raw_input"),
    [
        ("chat", ModelKind.chat, {"messages": [{"role": "user", "content": "é" * 601}]}),
        ("embed", ModelKind.embeddings, {"texts": ["x" * 400, "y" * 801]}),
    ],
)
async def test_input_over_max_input_bytes_is_refused_before_counting(
    redis: Redis, model: str, kind: ModelKind, raw_input: dict[str, object]
) -> None:
    keys = Keys(f"c{uuid.uuid4().hex[:10]}:")
    pool = PoolConfig(name=model, kind=kind, engine="x")
    store = JobStore(
        redis,
        keys,
        PoolsConfig(pools={model: pool}),
        retention_seconds=60,
        idempotency_ttl_seconds=60,
        max_input_bytes=1200,
    )
    with pytest.raises(PayloadTooLarge) as refused:
        await store.validate(JobRequest(model=model, input=raw_input))
    assert refused.value.code == "input_too_large"
    assert all([await redis.xlen(stream) == 0 for stream in keys.job_streams(model)])
