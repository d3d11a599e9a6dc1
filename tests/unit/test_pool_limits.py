"""Pool limits in the pools file, and the checks every engine makes on what reaches it."""

import json

import pytest
from pydantic import ValidationError

from contracts.pools import DEFAULT_LIMITS, ModelKind, PoolConfig
from worker.engines.base import chat_params, fit_text, text_size
from worker.errors import EngineError


@pytest.mark.parametrize("kind", list(ModelKind))
def test_limits_left_out_take_the_defaults_of_the_pool_kind(kind: ModelKind) -> None:
    pool = PoolConfig.model_validate({"name": "p", "kind": kind, "engine": "x"})
    assert pool.max_seconds == DEFAULT_LIMITS[kind].max_seconds
    assert pool.max_output_bytes == DEFAULT_LIMITS[kind].max_output_bytes
    given = PoolConfig.model_validate(
        {"name": "p", "kind": kind, "engine": "x", "max_seconds": 2, "max_output_bytes": 2048}
    )
    assert (given.max_seconds, given.max_output_bytes) == (2, 2048)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_seconds": 0},
        {"max_seconds": -1},
        {"max_seconds": float("nan")},
        {"max_seconds": 2**64},
        {"max_output_bytes": 1023},
        {"max_output_bytes": 2**64},
    ],
)
def test_limits_out_of_range_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        PoolConfig.model_validate({"name": "p", "kind": "chat", "engine": "x", **limits})


@pytest.mark.parametrize(
    "params",
    [
        {"seed": 2**64},
        {"seed": -(2**64)},
        {"seed": 2**63},
        {"seed": 2**53},
        {"seed": -1},
        {"seed": "not a number"},
        {"max_tokens": 2**64},
        {"max_tokens": 0},
        {"temperature": float("nan")},
        {"temperature": -1},
        {"top_p": 0},
        {"stop": [1]},
        {"stop": ["a", "b", "c", "d", "e"]},
    ],
)
def test_params_out_of_range_end_the_job_with_invalid_request(params: dict[str, object]) -> None:
    with pytest.raises(EngineError) as refused:
        chat_params(params)
    assert refused.value.code == "invalid_request"
    assert str(refused.value).startswith("params.")


def test_params_in_range_pass_and_unknown_ones_are_ignored() -> None:
    params = chat_params({"seed": 2**53 - 1, "max_tokens": 5, "from_a_newer_edge": True})
    assert (params.seed, params.max_tokens) == (2**53 - 1, 5)
    assert chat_params({"seed": 0}).seed == 0


@pytest.mark.parametrize("text", ["plain words " * 50, "é€😀" * 80, '"\\\n\x01' * 60])
def test_fit_text_keeps_the_longest_prefix_within_the_room(text: str) -> None:
    room = 200
    kept = fit_text(text, room)
    assert text.startswith(kept)
    assert text_size(kept) == len(json.dumps(kept, ensure_ascii=False).encode()) - 2 <= room
    assert text_size(text[: len(kept) + 1]) > room
