"""The edge's prompt check against a real Redis: counting runs off the event loop, a byte
check refuses what cannot fit before any counting, and a job's input bytes are capped."""

import asyncio
import json
import random
import uuid
from pathlib import Path
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from contracts.jobs import ChatInput, ChatParams, JobRequest
from contracts.keys import Keys
from contracts.models import ModelLimits
from contracts.pools import ModelKind, PoolConfig, PoolsConfig
from edge import context
from edge.context import ContextChecker, _keeps_every_byte, _merges_bytes, utf8_size
from edge.errors import BadRequest, PayloadTooLarge
from edge.store import JobStore
from tests.support.redis import CountingRedis

pytestmark = pytest.mark.integration

TOKENIZER = Path(__file__).parents[2] / "services/worker/models/relayline-tiny-chat/tokenizer.json"


async def checker_for(redis: Redis, max_context: int) -> ContextChecker:
    keys = Keys(f"c{uuid.uuid4().hex[:10]}:")
    limits = ModelLimits(max_context=max_context, tokenizer=TOKENIZER.read_text())
    await redis.set(keys.model_limits("chat"), limits.model_dump_json(), ex=60)
    return ContextChecker(redis, keys)


def chat(content: str) -> ChatInput:
    return ChatInput.model_validate({"messages": [{"role": "user", "content": content}]})


async def test_counting_a_large_prompt_leaves_the_event_loop_free(redis: Redis) -> None:
    # 900 KB: more bytes than the room (so not fitting uncounted), too few to be refused
    # uncounted: it must be counted
    checker = await checker_for(redis, max_context=600_000)
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


async def test_a_prompt_whose_bytes_fit_the_room_is_not_counted(redis: Redis) -> None:
    checker = await checker_for(redis, max_context=512)
    await checker.check_chat("chat", chat("warm"), ChatParams())  # limits cached
    checker._executor.shutdown()  # from now on, a count fails
    room = 512 - 10  # max_tokens=10; the test's limits have no template overhead
    await checker.check_chat("chat", chat("é" * ((room - 1) // 2)), ChatParams(max_tokens=10))
    with pytest.raises(RuntimeError):  # one byte more: it must be counted
        await checker.check_chat("chat", chat("x" * room), ChatParams(max_tokens=10))


def _texts(seed: int) -> list[str]:
    """Texts a tokenizer might split badly: any code point, emoji, specials, space runs."""
    rng = random.Random(seed)
    pieces = ["<|end|>", "<|user|>", " ", "  ", "\n", "\t", "é", "😀", "日本", "x", "1234"]
    texts = []
    for _ in range(300):
        kind = rng.random()
        if kind < 0.3:
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 60)))
        elif kind < 0.6:
            text = bytes(rng.randrange(256) for _ in range(rng.randint(1, 80))).decode(
                "utf-8", "replace"
            )
        else:
            code_points = (rng.randrange(0x110000) for _ in range(rng.randint(1, 40)))
            text = "".join(chr(c) for c in code_points if not 0xD800 <= c < 0xE000)
        texts.append(text or "x")
    return texts


def test_the_tiny_models_tokenizer_gives_at_most_a_token_per_byte_plus_one() -> None:
    from tokenizers import Tokenizer

    spec = json.loads(TOKENIZER.read_text())
    assert _keeps_every_byte(spec) and _merges_bytes(spec)
    tokenizer = Tokenizer.from_str(TOKENIZER.read_text())
    texts = _texts(12)
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    for text, encoding in zip(texts, encodings, strict=True):
        assert len(encoding.ids) <= utf8_size(text) + 1, text


def test_the_token_per_byte_bound_is_for_bpe_models_only() -> None:
    bpe = {"model": {"type": "BPE"}, "added_tokens": [{"content": "<|end|>"}]}
    assert _merges_bytes(bpe)
    assert not _merges_bytes({**bpe, "model": {"type": "WordPiece"}})
    assert not _merges_bytes({**bpe, "model": {"type": "Unigram"}})
    assert not _merges_bytes({**bpe, "added_tokens": [{"content": ""}]})
    assert not _merges_bytes({})


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


async def test_a_burst_of_submits_reads_the_published_limits_once(
    redis: Redis, redis_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checker = await checker_for(redis, max_context=512)
    counting = cast(CountingRedis, CountingRedis.from_url(redis_server_url, decode_responses=True))
    checker.redis = counting
    try:
        await asyncio.gather(
            *(checker.check_chat("chat", chat("hi"), ChatParams()) for _ in range(200))
        )
        assert counting.calls["GET"] == 1  # not one per submit that found them unread
        await asyncio.gather(
            *(checker.check_chat("chat", chat("hi"), ChatParams()) for _ in range(50))
        )
        assert counting.calls["GET"] == 1  # fresh: not read again
        monkeypatch.setattr(context, "REFRESH_SECONDS", 0.0)  # they are old at once now
        await asyncio.gather(
            *(checker.check_chat("chat", chat("hi"), ChatParams()) for _ in range(200))
        )
        assert counting.calls["GET"] == 2
        with pytest.raises(BadRequest):  # what was read still holds: refused by its length
            await checker.check_chat("chat", chat("relay " * 50_000), ChatParams())
    finally:
        await counting.aclose()


async def test_a_failed_read_of_the_limits_fails_each_waiting_submit_and_is_tried_again(
    redis: Redis, redis_server_url: str
) -> None:
    keys = Keys(f"c{uuid.uuid4().hex[:10]}:")
    await redis.hset(keys.model_limits("chat"), "not", "a string")  # GET refuses: WRONGTYPE
    counting = cast(CountingRedis, CountingRedis.from_url(redis_server_url, decode_responses=True))
    checker = ContextChecker(counting, keys)
    try:
        answers = await asyncio.gather(
            *(checker.check_chat("chat", chat("hi"), ChatParams()) for _ in range(20)),
            return_exceptions=True,
        )
        assert all(isinstance(answer, ResponseError) for answer in answers)
        assert counting.calls["GET"] == 1
        await redis.delete(keys.model_limits("chat"))  # nothing published: not checked
        await checker.check_chat("chat", chat("hi"), ChatParams())
        assert counting.calls["GET"] == 2  # the failure was not kept
    finally:
        await counting.aclose()


async def test_a_submit_that_leaves_does_not_cancel_the_read_others_wait_for(
    redis: Redis,
) -> None:
    checker = await checker_for(redis, max_context=512)
    first = asyncio.create_task(checker.check_chat("chat", chat("hi"), ChatParams()))
    second = asyncio.create_task(checker.check_chat("chat", chat("relay " * 50_000), ChatParams()))
    await asyncio.sleep(0)  # both wait for the one read
    first.cancel()
    with pytest.raises(BadRequest):  # the read went on: the limits refuse the long prompt
        await asyncio.wait_for(second, 10)
    assert first.cancelled()
