"""The token loop of the `transformers` engine: it runs in a thread of the engine's executor.

Every value it needs is checked before the loop starts (`Sampling`), and anything the loop
raises reaches the engine through the thread's future, never through the hand-off queue: a
failure in the thread ends the job instead of leaving the engine waiting for text.
"""

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.engines.base import fit_text, text_size

SEED_RANGE = 1 << 64
"""torch accepts seeds in [-2^63, 2^64); any integer is mapped into [0, 2^64)."""

GREEDY_BELOW = 1e-4
"""Temperatures below this sample greedily: dividing logits by a tinier one overflows to
infinities, and sampling from those fails; the answer would be the greedy one anyway."""

HAND_OFF_SECONDS = 0.01
"""The generating thread hands text to the event loop at most this often (the first piece at
once): waking the loop for every token costs the thread the GIL and about a third of its
speed. Cancel is still checked at every token."""


@dataclass(frozen=True, slots=True)
class Sampling:
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stops: tuple[str, ...]
    text_room: int
    """The most bytes of text (`text_size`) the answer may hold: the pool's output cap."""
    ignore_eos: bool = False


def generate(
    model: Any,
    tokenizer: Any,
    prompt_ids: list[int],
    sampling: Sampling,
    cancel: threading.Event,
    emit: Callable[[str], None],
) -> tuple[str, int, str]:
    """The token loop. Returns (text, tokens, finish reason); `emit` gets the text as it
    grows, except what may be the start of a stop string."""
    import torch

    generator = torch.Generator()
    if sampling.seed is None:
        generator.seed()
    else:
        generator.manual_seed(sampling.seed % SEED_RANGE)
    eos_ids = set() if sampling.ignore_eos else _eos_ids(model, tokenizer)
    hold = max((len(stop) for stop in sampling.stops), default=1) - 1
    ids: list[int] = []
    text, sent, finish = "", 0, "length"
    handed_at = 0.0
    past: Any = None
    inputs = torch.tensor([prompt_ids])
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
            if text_size(text) > sampling.text_room:  # the pool's output cap
                text, finish = fit_text(text, sampling.text_room), "length"
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

    if sampling.temperature < GREEDY_BELOW:
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
