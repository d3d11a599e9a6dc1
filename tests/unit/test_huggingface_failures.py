"""The transformers engine ends its job on any failure of its thread: nothing waits forever
for text that will never come. A stand-in model that fails is enough to show it."""

import asyncio
from typing import Any

import pytest

from contracts.pools import PoolConfig
from worker.engines.base import JobContext, Text
from worker.engines.huggingface import HuggingFaceEngine
from worker.engines.sampling import Sampling, _sample
from worker.errors import EngineError


class Tokenizer:
    chat_template = None
    eos_token_id = 0

    def encode(self, text: str) -> list[int]:
        return [1, 2, 3]

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "w" * len(ids)


class FailingModel:
    """Generates `good` tokens, then fails as a model library might on some input."""

    def __init__(self, good: int) -> None:
        self.good, self.calls = good, 0

    def __call__(self, **_: Any) -> Any:
        import torch

        self.calls += 1
        if self.calls > self.good:
            raise RuntimeError("the model library failed")
        logits = torch.zeros(1, 1, 8)
        logits[0, 0, 5] = 10.0  # never the end token (0)
        return type("Output", (), {"logits": logits, "past_key_values": None})()


def engine_with(model: FailingModel) -> HuggingFaceEngine:
    engine = HuggingFaceEngine(PoolConfig(name="p", kind="chat", engine="transformers"))
    engine._model, engine._tokenizer, engine.max_context = model, Tokenizer(), 512
    return engine


async def drain(engine: HuggingFaceEngine, params: dict[str, Any]) -> list[object]:
    job = JobContext("j", {"messages": [{"role": "user", "content": "hi"}]}, params, 1)
    return [item async for item in engine.stream(job)]


@pytest.mark.parametrize("good", [0, 3])
async def test_a_failure_in_the_generating_thread_ends_the_stream(good: int) -> None:
    items: list[object] = []
    with pytest.raises(RuntimeError, match="the model library failed"):
        async with asyncio.timeout(30):
            async for item in engine_with(FailingModel(good)).stream(
                JobContext("j", {"messages": [{"role": "user", "content": "hi"}]}, {}, 1)
            ):
                items.append(item)
    assert all(isinstance(item, Text) for item in items)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"seed": 2**64}, "invalid_request"),
        ({"max_tokens": 600}, "context_length_exceeded"),
        ({"temperature": "warm"}, "invalid_request"),
    ],
)
async def test_params_that_cannot_run_end_the_stream_with_a_code(
    params: dict[str, Any], code: str
) -> None:
    with pytest.raises(EngineError) as refused:
        async with asyncio.timeout(30):
            await drain(engine_with(FailingModel(100)), params)
    assert refused.value.code == code


def test_a_vanishing_temperature_samples_greedily_instead_of_failing() -> None:
    import torch

    logits = torch.tensor([1.0, 50.0, -3.0])
    sampling = Sampling(
        max_tokens=1, temperature=1e-300, top_p=1.0, seed=1, stops=(), text_room=100
    )
    assert _sample(logits, sampling, torch.Generator()) == 1
