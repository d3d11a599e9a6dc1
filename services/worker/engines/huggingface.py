"""Causal language models from a local Hugging Face folder (config, safetensors, tokenizer).

`model` in the pool is a folder, or the name of a model shipped in `worker/models/` (the
default `relayline-tiny-chat`). Nothing is fetched from a hub. The tokenizer's chat template
is applied when it has one. Generation is a token-by-token loop in a thread of its own, so:

- a cancel stops the model within one token (the loop checks an event between tokens);
- `seed` makes sampling reproducible (a generator of its own per job);
- `stop` strings end the output, and text that may be the start of one is held back;
- usage counts prompt and completion tokens exactly.

Pool options: `default_max_tokens` (256), `threads` (torch threads per process; 0: torch's
default), `ignore_eos` (never stop at the end token: for tests and benchmarks).
"""

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.events import Usage
from contracts.models import ModelLimits
from contracts.pools import ModelKind, PoolConfig
from worker.engines.base import Emit, JobContext, Result, Text
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


@dataclass(frozen=True, slots=True)
class Sampling:
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stops: tuple[str, ...]
    ignore_eos: bool = False


_DONE = object()
HAND_OFF_SECONDS = 0.01
"""The generating thread hands text to the event loop at most this often (the first piece at
once): waking the loop for every token costs the thread the GIL and about a third of its
speed. Cancel is still checked at every token."""


class HuggingFaceEngine:
    kind = ModelKind.chat

    def __init__(self, pool: PoolConfig) -> None:
        self.model_name = pool.model or DEFAULT_MODEL
        self.default_max_tokens = int(pool.options.get("default_max_tokens", 256))
        self.threads = int(pool.options.get("threads", 0))
        self.ignore_eos = bool(pool.options.get("ignore_eos", False))  # for tests, benchmarks
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

    def _sampling(self, params: dict[str, Any], prompt_tokens: int) -> Sampling:
        room = self.max_context - prompt_tokens
        wanted = params.get("max_tokens") or min(self.default_max_tokens, room)
        if prompt_tokens + wanted > self.max_context:
            raise EngineError(
                f"this model's context is {self.max_context} tokens; the prompt has "
                f"{prompt_tokens} and {wanted} more were asked for",
                code="context_length_exceeded",
            )
        stop = params.get("stop") or ()
        stops = (stop,) if isinstance(stop, str) else tuple(stop)
        temperature = params.get("temperature")
        return Sampling(
            max_tokens=int(wanted),
            temperature=1.0 if temperature is None else float(temperature),
            top_p=float(params.get("top_p") or 1.0),
            seed=params.get("seed"),
            stops=tuple(s for s in stops if s),
            ignore_eos=self.ignore_eos,
        )

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        prompt_ids = self._prompt_ids(job.input["messages"])
        sampling = self._sampling(job.params, len(prompt_ids))
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        future = loop.run_in_executor(
            self._executor,
            _generate,
            self._model,
            self._tokenizer,
            prompt_ids,
            sampling,
            cancel,
            emit,
        )
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield Text(item)
            text, completion_tokens, finish_reason = await future
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


def _generate(
    model: Any,
    tokenizer: Any,
    prompt_ids: list[int],
    sampling: Sampling,
    cancel: threading.Event,
    emit: Callable[[object], None],
) -> tuple[str, int, str]:
    """The token loop; runs in a worker thread. Returns (text, tokens, finish reason)."""
    import torch

    generator = torch.Generator()
    if sampling.seed is not None:
        generator.manual_seed(int(sampling.seed))
    else:
        generator.seed()
    eos_ids = set() if sampling.ignore_eos else _eos_ids(model, tokenizer)
    hold = max((len(stop) for stop in sampling.stops), default=1) - 1
    ids: list[int] = []
    text, sent, finish = "", 0, "length"
    handed_at = 0.0
    past: Any = None
    inputs = torch.tensor([prompt_ids])
    try:
        with torch.inference_mode():
            while len(ids) < sampling.max_tokens:
                if cancel.is_set():
                    finish = "cancelled"
                    break
                output = model(input_ids=inputs, past_key_values=past, use_cache=True)
                past = output.past_key_values
                token = _sample(output.logits[0, -1], sampling, generator)
                if token in eos_ids:
                    finish = "stop"
                    break
                ids.append(token)
                inputs = torch.tensor([[token]])
                text = tokenizer.decode(ids, skip_special_tokens=True)
                cut = _first_stop(text, sampling.stops)
                if cut is not None:
                    text, finish = text[:cut], "stop"
                    break
                ready = len(text) - hold
                if text.endswith("\ufffd"):  # half a character: wait for the rest
                    ready = min(ready, len(text) - 1)
                now = time.monotonic()
                if ready > sent and (not sent or now - handed_at >= HAND_OFF_SECONDS):
                    emit(text[sent:ready])
                    sent, handed_at = ready, now
        if len(text) > sent:
            emit(text[sent:])
    except BaseException as exc:
        emit(exc)
    finally:
        emit(_DONE)
    return text, len(ids), finish


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = {tokenizer.eos_token_id}
    with contextlib.suppress(AttributeError):
        configured = model.generation_config.eos_token_id
        ids.update(configured if isinstance(configured, list) else [configured])
    return {i for i in ids if i is not None}


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    positions = [index for stop in stops if (index := text.find(stop)) >= 0]
    return min(positions) if positions else None


def _sample(logits: Any, sampling: Sampling, generator: Any) -> int:
    import torch

    if sampling.temperature == 0:
        return int(torch.argmax(logits))
    probabilities = torch.softmax(logits / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        sorted_probabilities, order = torch.sort(probabilities, descending=True)
        cumulative = torch.cumsum(sorted_probabilities, dim=-1)
        keep = cumulative - sorted_probabilities < sampling.top_p
        sorted_probabilities = sorted_probabilities * keep
        choice = torch.multinomial(sorted_probabilities, 1, generator=generator)
        return int(order[choice])
    return int(torch.multinomial(probabilities, 1, generator=generator))
