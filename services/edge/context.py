"""Checks a chat request against its model's context before it is queued.

Workers publish `ModelLimits` (the context length, and for models with a tokenizer its
`tokenizers` JSON and the chat template's overhead) under `rl:limits:{pool}`. The edge counts
a prompt's tokens with that tokenizer (a text-to-ids function, not model code) and refuses a
request that cannot fit with `400 context_length_exceeded`. A pool whose workers have not
published yet is not checked here; its worker checks again, exactly, before it generates.

Counting is CPU work, so it never runs on the event loop: tokenizers are built and prompts
counted in a small executor of the edge's own (`TOKENIZER_THREADS`). Before that, two cheap
checks decide from a prompt's length in UTF-8 bytes alone, when the tokenizer keeps every
byte of its input (no normalizer, pre-tokenizers that only split or map bytes to symbols):

- each token covers at most the bytes of the longest token in its vocabulary, so a prompt
  longer than the room times that has more tokens than the room: refused uncounted;
- a BPE model starts from one symbol per byte (byte-level) or per character (at least a
  byte; byte fallback gives one symbol per byte) and only merges them, and a special token
  replaces at least one byte, so a text has at most as many tokens as bytes, plus one for
  the space byte-level pre-tokenizing may put in front: a prompt whose bytes fit the room
  (with that one more per message) fits, and is not counted. Most prompts are far below
  the context: their submits never wait for the tokenizer.
"""

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from tokenizers import Tokenizer

from contracts.errors import ErrorCode
from contracts.jobs import ChatInput, ChatParams
from contracts.keys import Keys
from contracts.models import ModelLimits
from edge.errors import BadRequest

REFRESH_SECONDS = 5.0
TOKENIZER_THREADS = 2
"""Prompts counted at once per edge process; more wait their turn (off the event loop)."""

_KEEPS_BYTES = frozenset({"ByteLevel", "Split", "Digits", "Punctuation"})


@dataclass
class _Cached:
    fetched_at: float
    raw: str | None
    limits: ModelLimits | None
    tokenizer: Tokenizer | None
    max_token_bytes: int | None
    """Bytes of input one token covers at most; None when the tokenizer may drop bytes."""
    token_per_byte: bool = False
    """Whether a text has at most one token per UTF-8 byte, plus one (see the module)."""


def utf8_size(text: str) -> int:
    """The UTF-8 bytes of `text`; lone surrogates count too (they are refused elsewhere)."""
    return len(text.encode("utf-8", "surrogatepass"))


class ContextChecker:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._cache: dict[str, _Cached] = {}
        self._fetching: dict[str, asyncio.Task[_Cached]] = {}
        self._executor = ThreadPoolExecutor(TOKENIZER_THREADS, thread_name_prefix="tokenize")

    async def _limits(self, pool: str) -> _Cached:
        """The pool's published limits, read again once they are `REFRESH_SECONDS` old: one
        read for every submit that finds them old at once (a burst of submits after a quiet
        spell would otherwise send one read each, on as many new connections)."""
        cached = self._cache.get(pool)
        if cached and time.monotonic() - cached.fetched_at < REFRESH_SECONDS:
            return cached
        fetching = self._fetching.get(pool)
        if fetching is None:
            fetching = self._fetching[pool] = asyncio.create_task(self._fetch(pool, cached))
            fetching.add_done_callback(lambda _: self._fetching.pop(pool, None))
        # shielded: one submit cancelled (its client gone) must not cancel the others' read
        return await asyncio.shield(fetching)

    async def _fetch(self, pool: str, cached: _Cached | None) -> _Cached:
        raw = cast(str | None, await self.redis.get(self.keys.model_limits(pool)))
        if cached and raw == cached.raw:
            cached.fetched_at = time.monotonic()
            return cached
        loop = asyncio.get_running_loop()
        cached = await loop.run_in_executor(self._executor, _parse, raw)
        self._cache[pool] = cached
        return cached

    async def check_chat(self, pool: str, chat: ChatInput, params: ChatParams) -> None:
        cached = await self._limits(pool)
        if cached.limits is None or cached.tokenizer is None or not cached.limits.max_context:
            return
        limits, tokenizer = cached.limits, cached.tokenizer
        contents = [message.content for message in chat.messages]
        wanted = params.max_tokens or 1
        overhead = limits.overhead_fixed + limits.overhead_per_message * len(contents)
        room = limits.max_context - overhead - wanted
        if cached.max_token_bytes:
            size = sum(utf8_size(content) for content in contents)
            if cached.token_per_byte and size + len(contents) <= room:
                return  # at most one token per byte: it fits, uncounted
            if size > max(room, 0) * cached.max_token_bytes:
                least = overhead + -(-size // cached.max_token_bytes)
                raise _too_long(limits, f"at least {least}", wanted)
        loop = asyncio.get_running_loop()
        prompt = overhead + await loop.run_in_executor(self._executor, _count, tokenizer, contents)
        if prompt + wanted > limits.max_context:
            raise _too_long(limits, str(prompt), wanted)


def _too_long(limits: ModelLimits, prompt: str, wanted: int) -> BadRequest:
    return BadRequest(
        ErrorCode.context_length_exceeded,
        f"this model's context is {limits.max_context} tokens; the messages have {prompt} "
        f"and {wanted} more were asked for: shorten the messages or lower max_tokens",
    )


def _count(tokenizer: Tokenizer, contents: list[str]) -> int:
    encodings = tokenizer.encode_batch(contents, add_special_tokens=False)
    return sum(len(encoding.ids) for encoding in encodings)


def _parse(raw: str | None) -> _Cached:
    """Published limits, their tokenizer and its bytes per token; runs in the executor."""
    limits = ModelLimits.model_validate_json(raw) if raw else None
    tokenizer, max_token_bytes, token_per_byte = None, None, False
    if limits and limits.tokenizer:
        tokenizer = Tokenizer.from_str(limits.tokenizer)
        spec = json.loads(limits.tokenizer)
        if _keeps_every_byte(spec):
            vocabulary = tokenizer.get_vocab(with_added_tokens=True)
            max_token_bytes = max((utf8_size(token) for token in vocabulary), default=0) or None
            token_per_byte = _merges_bytes(spec)
    return _Cached(time.monotonic(), raw, limits, tokenizer, max_token_bytes, token_per_byte)


def _merges_bytes(spec: dict[str, Any]) -> bool:
    """Whether the model only merges symbols of at least a byte each (BPE), and every added
    token replaces at least one byte: then a text has at most a token per byte (plus one)."""
    model = spec.get("model") or {}
    added = spec.get("added_tokens") or []
    return model.get("type") == "BPE" and all(token.get("content") for token in added)


def _keeps_every_byte(spec: dict[str, Any]) -> bool:
    """Whether every input byte reaches a token: no normalizer (it may drop characters) and
    only pre-tokenizers that split without removing anything."""
    if spec.get("normalizer") is not None:
        return False
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    return bool(steps) and all(
        step.get("type") in _KEEPS_BYTES and step.get("behavior") != "Removed" for step in steps
    )
