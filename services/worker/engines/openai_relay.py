"""Relays jobs to any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, OpenAI,
another Relayline edge), streaming.

Pool options: `base_url` (e.g. `http://127.0.0.1:8000/v1`), `api_key` or `api_key_env` (the
name of an environment variable holding it), `upstream_model` (default: the pool's `model`),
`timeout` (seconds without a byte, default 60), `retries` (default 2), `max_context`.

A cancel closes the upstream request. Upstream errors, malformed answers and timeouts end the
job `failed` with `upstream_error`, `upstream_timeout` or `upstream_unavailable`; a request is
retried only while nothing has been generated, so a client never sees text twice. A chat
answer stops at the pool's `max_output_bytes` (`finish_reason: "length"`, the upstream
request is closed); embeddings past it end the job with `output_too_large`.

The params only such an engine honours (`tools`, `tool_choice`, `response_format`,
`logprobs`, `top_logprobs`, `n`: `contracts.passthrough`) are forwarded as given; what they
bring back (tool calls, logprobs, other choices) is in the output's `choices`
(`worker.engines.openai_choices`).
"""

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from contracts.errors import ErrorCode
from contracts.events import Usage
from contracts.jobs import ChatInput, EmbeddingsInput
from contracts.models import ModelLimits
from contracts.passthrough import PARAMS as PASSTHROUGH_PARAMS
from contracts.pools import ModelKind, PoolConfig
from worker.engines.base import (
    Emit,
    JobContext,
    Result,
    Text,
    chat_params,
    checked,
    output_size,
    text_room,
)
from worker.engines.openai_choices import Choices
from worker.errors import EngineError

_PASSED_PARAMS = ("max_tokens", "temperature", "top_p", "seed", "stop")


class _Retryable(Exception):
    def __init__(self, error: EngineError) -> None:
        self.error = error


class OpenAIEngine:
    def __init__(self, pool: PoolConfig) -> None:
        options = pool.options
        self.kind = pool.kind
        self.base_url = str(options.get("base_url", "")).rstrip("/")
        if not self.base_url:
            raise EngineError(f"pool {pool.name!r}: the openai engine needs options.base_url")
        key = options.get("api_key") or os.environ.get(str(options.get("api_key_env", "")), "")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.upstream_model = str(options.get("upstream_model") or pool.model)
        self.timeout = float(options.get("timeout", 60))
        self.retries = int(options.get("retries", 2))
        self.max_context = int(options.get("max_context", 0))
        self.max_output_bytes = pool.max_output_bytes
        self.text_room = text_room(pool.max_output_bytes)
        self._client: httpx.AsyncClient | None = None

    async def load(self) -> None:
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=httpx.Timeout(self.timeout)
        )

    def limits(self) -> ModelLimits:
        return ModelLimits(max_context=self.max_context)

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        for attempt in range(self.retries + 1):
            generated = False
            try:
                if self.kind == ModelKind.embeddings:
                    yield await self._embeddings(job)
                    return
                async for item in self._chat(job):
                    generated = generated or isinstance(item, Text)
                    yield item
                return
            except _Retryable as retry:
                if generated or attempt == self.retries:
                    raise retry.error from None
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))

    async def _chat(self, job: JobContext) -> AsyncIterator[Emit]:
        assert self._client is not None
        messages = checked(ChatInput, job.input, "input").messages
        params = chat_params(job.params, forwards=True)
        body: dict[str, Any] = {
            "model": self.upstream_model,
            "messages": [message.model_dump() for message in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        passed = set(_PASSED_PARAMS + PASSTHROUGH_PARAMS)
        body.update(params.model_dump(mode="json", include=passed, exclude_none=True))
        choices = Choices(self.text_room)
        with _transport_errors(self.timeout):
            async with self._client.stream("POST", "/chat/completions", json=body) as response:
                await _raise_for_status(response)
                async for line in response.aiter_lines():
                    data = line[5:].strip() if line.startswith("data:") else ""
                    if data == "[DONE]":
                        break
                    if not data:
                        continue
                    if text := _add_chunk(choices, data):
                        yield Text(text)
                    if choices.cut:  # the pool's output cap: stop reading
                        break
        yield Result(output=choices.output(), usage=choices.usage or Usage())

    async def _embeddings(self, job: JobContext) -> Result:
        assert self._client is not None
        texts = checked(EmbeddingsInput, job.input, "input").texts
        body = {"model": self.upstream_model, "input": texts}
        with _transport_errors(self.timeout):
            async with self._client.stream("POST", "/embeddings", json=body) as response:
                await _raise_for_status(response)
                raw = await _read_at_most(response, 2 * self.max_output_bytes + 65536)
        try:
            payload = json.loads(raw)
            data = sorted(payload["data"], key=lambda item: item["index"])
            vectors = [item["embedding"] for item in data]
            tokens = int(payload.get("usage", {}).get("prompt_tokens", 0))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise _bad_upstream(exc) from None
        output = {"embeddings": vectors, "dimensions": len(vectors[0]) if vectors else 0}
        if output_size(output) > self.max_output_bytes:
            raise _output_too_large(self.max_output_bytes)
        return Result(output=output, usage=Usage(prompt_tokens=tokens, total_tokens=tokens))


def _add_chunk(choices: Choices, data: str) -> str:
    """One streamed chunk into `choices`: its first choice's new text. A malformed chunk is an
    upstream error."""
    try:
        return choices.add(json.loads(data))
    except (ValueError, TypeError, AttributeError) as exc:
        raise _bad_upstream(exc) from None


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    body = bytearray()
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > limit:
            raise _output_too_large(limit)
    return bytes(body)


def _bad_upstream(exc: Exception) -> EngineError:
    message = f"the upstream sent a malformed answer: {type(exc).__name__}: {exc}"[:300]
    return EngineError(message, ErrorCode.upstream_error)


def _output_too_large(limit: int) -> EngineError:
    message = f"the upstream's answer is larger than this model's output cap of {limit} bytes"
    return EngineError(message, ErrorCode.output_too_large)


@contextlib.contextmanager
def _transport_errors(timeout: float) -> Iterator[None]:
    """Timeouts and unreachable upstreams, as retryable engine errors with their codes."""
    try:
        yield
    except httpx.TimeoutException as exc:
        error = EngineError(f"the upstream did not answer in {timeout}s", "upstream_timeout")
        raise _Retryable(error) from exc
    except httpx.TransportError as exc:
        error = EngineError(f"cannot reach the upstream: {exc}", "upstream_unavailable")
        raise _Retryable(error) from exc


async def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    body = (await response.aread()).decode(errors="replace")
    try:
        detail = json.loads(body)["error"]
        message = detail.get("message") or str(detail)
        upstream_code = detail.get("code")
    except (ValueError, KeyError, TypeError, AttributeError):
        message, upstream_code = body[:300], None
    error = EngineError(
        f"the upstream answered {response.status_code}: {message}",
        code=upstream_code if upstream_code == "context_length_exceeded" else "upstream_error",
    )
    if response.status_code >= 500 or response.status_code == 429:
        raise _Retryable(error)
    raise error
