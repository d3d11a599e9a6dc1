"""A stand-in model for benchmarks, timing and fault tests only: it streams made-up words at a
set rate. Never a default pool. Options: `token_rate` (tokens per second), `latency` (seconds
before the first token), `default_tokens` (when `max_tokens` is not given), `crash_on` (fault
injection: a prompt containing this text kills the worker process, like a model that
crashes on one input)."""

import asyncio
import os
import random
from collections.abc import AsyncIterator

from contracts.events import Usage
from contracts.jobs import ChatInput
from contracts.models import ModelLimits
from contracts.pools import ModelKind, PoolConfig
from worker.engines.base import (
    Emit,
    JobContext,
    Result,
    Text,
    chat_params,
    checked,
    text_room,
    text_size,
)

_WORDS = [
    "relay",
    "line",
    "stream",
    "event",
    "worker",
    "edge",
    "token",
    "job",
    "queue",
    "seq",
    "resume",
    "fan",
    "out",
    "redis",
    "group",
    "model",
    "pool",
    "cancel",
    "reset",
    "progress",
    "result",
    "usage",
]


class SimulatedEngine:
    kind = ModelKind.chat

    def __init__(self, pool: PoolConfig) -> None:
        options = pool.options
        self.token_rate = float(options.get("token_rate", 50.0))
        self.latency = float(options.get("latency", 0.05))
        self.default_tokens = int(options.get("default_tokens", 32))
        self.max_context = int(options.get("max_context", 4096))
        self.crash_on = str(options.get("crash_on", ""))
        self.text_room = text_room(pool.max_output_bytes)

    async def load(self) -> None:
        return None

    def limits(self) -> ModelLimits:
        return ModelLimits(max_context=self.max_context)

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        params = chat_params(job.params)
        tokens = params.max_tokens or self.default_tokens
        rng = random.Random(job.id if params.seed is None else params.seed)
        messages = checked(ChatInput, job.input, "input").messages
        prompt = " ".join(message.content for message in messages)
        if self.crash_on and self.crash_on in prompt:
            os._exit(70)  # the whole process dies, as with a segfault in a model library
        prompt_tokens = len(prompt.split())
        loop = asyncio.get_running_loop()
        await asyncio.sleep(self.latency)
        interval = 1.0 / self.token_rate if self.token_rate > 0 else 0.0
        started = loop.time()
        text: list[str] = []
        room = self.text_room
        for index in range(tokens):
            if index and interval:
                # Paced by deadline, so time spent elsewhere does not slow the rate down.
                await asyncio.sleep(max(0.0, started + index * interval - loop.time()))
            word = rng.choice(_WORDS) + " "
            room -= text_size(word)
            if room < 0:  # the pool's output cap
                break
            text.append(word)
            yield Text(word)
        usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=len(text),
            total_tokens=prompt_tokens + len(text),
        )
        yield Result(output={"text": "".join(text), "finish_reason": "length"}, usage=usage)
