"""Causal language models from a local Hugging Face folder (config, safetensors, tokenizer).

`model` in the pool is a folder, or the name of a model shipped in `worker/models/` (the
default `relayline-tiny-chat`). Nothing is fetched from a hub. The tokenizer's chat template
is applied when it has one. Generation is a token-by-token loop in a thread of its own, so:

- a cancel stops the model within one token (the loop checks an event between tokens);
- `seed` makes sampling reproducible (a generator of its own per job);
- `stop` strings end the output, and text that may be the start of one is held back;
- usage counts prompt and completion tokens exactly;
- the answer stops at the pool's `max_output_bytes` with `finish_reason: "length"`.

Every step (checking params, tokenizing, sampling) runs in the engine's executor, off the event
loop, and any failure in it ends the job `failed`: params that do not fit the contract with
`invalid_request`, a prompt that cannot be tokenized with `invalid_request`, too long a
prompt with `context_length_exceeded`, anything else with `engine_error`.

Pool options: `default_max_tokens` (256), `threads` (torch threads per process; 0: torch's
default), `ignore_eos` (never stop at the end token: for tests and benchmarks).
"""

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from contracts.errors import ErrorCode
from contracts.events import Usage
from contracts.jobs import ChatInput, ChatParams
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
)
from worker.engines.sampling import Sampling, generate
from worker.errors import EngineError

BUNDLED_MODELS = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = "relayline-tiny-chat"


def resolve_model_dir(model: str) -> Path:
    bundled = BUNDLED_MODELS / (model or DEFAULT_MODEL)
    path = bundled if bundled.is_dir() else Path(model).expanduser()
    if not (path / "config.json").is_file():
        raise EngineError(
            f"no model folder at {path}: give a folder with config.json, weights and a tokenizer"
        )
    return path


_DONE = object()


class HuggingFaceEngine:
    kind = ModelKind.chat

    def __init__(self, pool: PoolConfig) -> None:
        self.model_name = pool.model or DEFAULT_MODEL
        self.default_max_tokens = int(pool.options.get("default_max_tokens", 256))
        self.threads = int(pool.options.get("threads", 0))
        self.ignore_eos = bool(pool.options.get("ignore_eos", False))  # for tests, benchmarks
        self.text_room = text_room(pool.max_output_bytes)
        self._executor = ThreadPoolExecutor(max_workers=pool.concurrency, thread_name_prefix="gen")
        self._model: Any = None
        self._tokenizer: Any = None
        self.max_context = 0

    async def load(self) -> None:
        path = resolve_model_dir(self.model_name)
        self._tokenizer, self._model = await asyncio.to_thread(_load, path, self.threads)
        config = self._model.config
        self.max_context = int(
            getattr(config, "max_position_embeddings", None)
            or getattr(config, "n_positions", None)
            or self._tokenizer.model_max_length
        )

    def limits(self) -> ModelLimits:
        fixed, per_message = self._template_overhead()
        return ModelLimits(
            max_context=self.max_context,
            tokenizer=self._tokenizer.backend_tokenizer.to_str(),
            overhead_fixed=fixed,
            overhead_per_message=per_message,
        )

    def _template_overhead(self) -> tuple[int, int]:
        one = len(self._prompt_ids([{"role": "user", "content": ""}]))
        two = len(self._prompt_ids([{"role": "user", "content": ""}] * 2))
        return one - (two - one), two - one

    def _prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        tokenizer = self._tokenizer
        if tokenizer.chat_template:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):
                ids = ids["input_ids"]
            return list(ids)
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return list(tokenizer.encode(text))

    def _tokenize(self, messages: Any) -> list[int]:
        try:
            return self._prompt_ids(messages)
        except Exception as exc:  # e.g. lone surrogates, a message that is not text
            message = f"the prompt cannot be tokenized: {type(exc).__name__}: {exc}"[:300]
            raise EngineError(message, ErrorCode.invalid_request) from None

    def _sampling(self, params: ChatParams, prompt_tokens: int) -> Sampling:
        room = self.max_context - prompt_tokens
        wanted = params.max_tokens or max(1, min(self.default_max_tokens, room))
        if prompt_tokens + wanted > self.max_context:
            raise EngineError(
                f"this model's context is {self.max_context} tokens; the prompt has "
                f"{prompt_tokens} and {wanted} more were asked for",
                ErrorCode.context_length_exceeded,
            )
        stops = (params.stop,) if isinstance(params.stop, str) else tuple(params.stop or ())
        return Sampling(
            max_tokens=wanted,
            temperature=1.0 if params.temperature is None else params.temperature,
            top_p=params.top_p or 1.0,
            seed=params.seed,
            stops=tuple(stop for stop in stops if stop),
            text_room=self.text_room,
            ignore_eos=self.ignore_eos,
        )

    def _prepare(self, job: JobContext) -> tuple[list[int], Sampling]:
        """Params and prompt, checked and tokenized; runs in the executor."""
        messages = checked(ChatInput, job.input, "input").messages
        params = chat_params(job.params)
        prompt_ids = self._tokenize([message.model_dump() for message in messages])
        return prompt_ids, self._sampling(params, len(prompt_ids))

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        loop = asyncio.get_running_loop()
        prompt_ids, sampling = await loop.run_in_executor(self._executor, self._prepare, job)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def emit(text: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, text)

        future = loop.run_in_executor(
            self._executor,
            generate,
            self._model,
            self._tokenizer,
            prompt_ids,
            sampling,
            cancel,
            emit,
        )
        # Called after every piece the thread emitted, whether the thread returned or raised.
        future.add_done_callback(lambda _: queue.put_nowait(_DONE))
        try:
            while (item := await queue.get()) is not _DONE:
                yield Text(item)
            text, completion_tokens, finish_reason = await future  # raises what the thread did
        finally:
            cancel.set()  # stops the loop within one token when the job is cancelled
        usage = Usage(
            prompt_tokens=len(prompt_ids),
            completion_tokens=completion_tokens,
            total_tokens=len(prompt_ids) + completion_tokens,
        )
        yield Result(output={"text": text, "finish_reason": finish_reason}, usage=usage)


def _load(path: Path, threads: int) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    if threads:
        torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(
        path, local_files_only=True, dtype=torch.float32
    )
    model.eval()
    return tokenizer, model
