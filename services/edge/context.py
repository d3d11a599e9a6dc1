"""Checks a chat request against its model's context before it is queued.

Workers publish `ModelLimits` (the context length, and for models with a tokenizer its
`tokenizers` JSON and the chat template's overhead) under `rl:limits:{pool}`. The edge counts
a prompt's tokens with that tokenizer (a text-to-ids function, not model code) and refuses a
request that cannot fit with `400 context_length_exceeded`. A pool whose workers have not
published yet is not checked here; its worker checks again, exactly, before it generates.
"""

import time
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from tokenizers import Tokenizer

from contracts.errors import ErrorCode
from contracts.jobs import ChatInput, ChatParams
from contracts.keys import Keys
from contracts.models import ModelLimits
from edge.errors import BadRequest

REFRESH_SECONDS = 5.0


@dataclass
class _Cached:
    fetched_at: float
    raw: str | None
    limits: ModelLimits | None
    tokenizer: Tokenizer | None


class ContextChecker:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._cache: dict[str, _Cached] = {}

    async def _limits(self, pool: str) -> _Cached:
        cached = self._cache.get(pool)
        if cached and time.monotonic() - cached.fetched_at < REFRESH_SECONDS:
            return cached
        raw = cast(str | None, await self.redis.get(self.keys.model_limits(pool)))
        if cached and raw == cached.raw:
            cached.fetched_at = time.monotonic()
            return cached
        limits = ModelLimits.model_validate_json(raw) if raw else None
        tokenizer = Tokenizer.from_str(limits.tokenizer) if limits and limits.tokenizer else None
        cached = self._cache[pool] = _Cached(time.monotonic(), raw, limits, tokenizer)
        return cached

    async def check_chat(self, pool: str, chat: ChatInput, params: ChatParams) -> None:
        cached = await self._limits(pool)
        if cached.limits is None or cached.tokenizer is None or not cached.limits.max_context:
            return
        limits, tokenizer = cached.limits, cached.tokenizer
        contents = [message.content for message in chat.messages]
        encodings = tokenizer.encode_batch(contents, add_special_tokens=False)
        prompt = (
            limits.overhead_fixed
            + limits.overhead_per_message * len(contents)
            + sum(len(encoding.ids) for encoding in encodings)
        )
        wanted = params.max_tokens or 1
        if prompt + wanted > limits.max_context:
            raise BadRequest(
                ErrorCode.context_length_exceeded,
                f"this model's context is {limits.max_context} tokens; the messages have "
                f"{prompt} and {wanted} more were asked for: shorten the messages or lower "
                "max_tokens",
            )
