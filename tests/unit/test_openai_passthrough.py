"""The params only `openai`-engine pools honour (`contracts.passthrough`): bounded in the
contract, refused by other engines, and what they bring back from an upstream (tool calls,
logprobs, more choices) gathered by the relay engine and rendered in OpenAI's shapes, checked
with the `openai` client's own types and stream accumulator."""

import json
import math
from typing import Any

import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import ValidationError

from contracts.errors import ErrorCode
from contracts.jobs import ChatParams
from contracts.passthrough import MAX_SCHEMA_DEPTH, unhonoured
from edge.chat_choices import completion_choices, end_chunks
from worker.engines.base import chat_params
from worker.engines.openai_choices import Choices
from worker.errors import EngineError

TOOL = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}


def _nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    for _ in range(depth - 1):
        schema = {"a": schema}
    return schema


BAD_PARAMS: list[dict[str, Any]] = [
    {"n": 0},
    {"n": -1},
    {"n": 9},
    {"n": 10**9},
    {"n": 2**64},
    {"n": 2.0},
    {"n": True},
    {"n": math.nan},
    {"top_logprobs": 21},
    {"top_logprobs": -1},
    {"logprobs": 1},
    {"tools": [TOOL] * 129},
    {"tools": [{"type": "function", "function": {"name": "wéather"}}]},
    {"tools": [{"type": "function", "function": {"name": "x" * 65}}]},
    {"tools": [{"type": "function", "function": {"name": "f", "parameters": _nested(33)}}]},
    {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"e": [1] * 10**4}}}]},
    {"tools": [{"type": "code", "function": {"name": "f"}}]},
    {"tool_choice": "sometimes"},
    {"response_format": {"type": "xml"}},
    {"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": "x"}}},
]


@pytest.mark.parametrize("params", BAD_PARAMS, ids=lambda p: json.dumps(p)[:60])
def test_the_contract_bounds_every_passthrough_param(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ChatParams.model_validate(params)


def test_the_bounds_themselves_are_accepted() -> None:
    deep = {"type": "function", "function": {"name": "f", "parameters": _nested(MAX_SCHEMA_DEPTH)}}
    params = {"tools": [deep] * 128, "n": 8, "top_logprobs": 20, "logprobs": True}
    assert ChatParams.model_validate(params).n == 8


def test_only_forwarding_engines_honour_them_and_harmless_values_pass_anywhere() -> None:
    harmless = {"tools": [], "tool_choice": "auto", "response_format": {"type": "text"}, "n": 1}
    assert unhonoured({**harmless, "logprobs": False, "top_logprobs": 0}, "transformers") is None
    assert unhonoured({"tools": [TOOL]}, "transformers") == "tools"
    assert unhonoured({"n": 2}, "simulated") == "n"
    assert unhonoured({"tools": [TOOL], "n": 2}, "openai") is None
    with pytest.raises(EngineError) as refused:  # a job the edge would have refused
        chat_params({"tools": [TOOL]})
    assert refused.value.code == ErrorCode.unsupported_parameter
    assert chat_params({"tools": [TOOL]}, forwards=True).tools


def _delta(index: int, **delta: Any) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": None}


LOGPROB = {"token": "It", "logprob": -0.1, "bytes": [73, 116], "top_logprobs": []}
UPSTREAM: list[dict[str, Any]] = [  # what an OpenAI server streams for n=2, tools, logprobs
    {"choices": [_delta(0, role="assistant", content=""), _delta(1, role="assistant")]},
    {"choices": [{**_delta(0, content="It"), "logprobs": {"content": [LOGPROB]}}]},
    {"choices": [_delta(1, tool_calls=[{"index": 0, "id": "call_1", "type": "function"}])]},
    {"choices": [_delta(1, tool_calls=[{"index": 0, "function": {"name": "weather"}}])]},
    {"choices": [_delta(1, tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}])]},
    {"choices": [_delta(1, tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}])]},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    {"choices": [{"index": 1, "delta": {}, "finish_reason": "tool_calls"}]},
    {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
]


def _gathered() -> tuple[dict[str, Any], str]:
    choices = Choices(room=1 << 20)
    text = "".join(choices.add(chunk) for chunk in UPSTREAM)
    assert choices.usage is not None and choices.usage.total_tokens == 8
    return choices.output(), text


def test_tool_calls_logprobs_and_choices_come_back_in_the_completion() -> None:
    output, text = _gathered()
    assert (text, output["text"], output["finish_reason"]) == ("It", "It", "stop")
    completion = ChatCompletion.model_validate(
        {"id": "c", "object": "chat.completion", "created": 1, "model": "m"}
        | {"choices": completion_choices(output)}
    )
    first, second = completion.choices
    assert first.message.content == "It"
    assert first.logprobs is not None and first.logprobs.content is not None
    assert first.logprobs.content[0].token == "It"
    assert second.finish_reason == "tool_calls"
    assert second.message.tool_calls is not None
    call = second.message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (  # type: ignore[union-attr]
        "call_1",
        "weather",
        '{"city":"Paris"}',
    )


def test_the_stream_ends_with_them_as_the_openai_client_accumulates_it() -> None:
    output, text = _gathered()
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    streamed = [[_delta(0, role="assistant", content="")], [_delta(0, content=text)]]
    for choices in [*streamed, *end_chunks(output)]:
        state.handle_chunk(ChatCompletionChunk.model_validate({**head, "choices": choices}))
    first, second = state.get_final_completion().choices
    assert (first.message.content, first.finish_reason) == ("It", "stop")
    assert second.message.tool_calls is not None
    assert second.message.tool_calls[0].function.arguments == '{"city":"Paris"}'


def test_a_plain_answer_looks_as_it_always_did() -> None:
    choices = Choices(room=1 << 20)
    for chunk in ({"choices": [_delta(0, content="Hi")]}, {"choices": [_delta(0)]}):
        choices.add(chunk)
    assert choices.output() == {"text": "Hi", "finish_reason": "stop"}
    assert end_chunks(choices.output()) == [[{"index": 0, "delta": {}, "finish_reason": "stop"}]]


def test_the_output_cap_counts_tool_calls_and_other_choices_too() -> None:
    choices = Choices(room=20)
    arguments = {"arguments": "x" * 100}
    choices.add({"choices": [_delta(1, tool_calls=[{"index": 0, "function": arguments}])]})
    assert choices.cut
    output = choices.output()
    assert output["finish_reason"] == "length"
    assert len(output["choices"][1]["tool_calls"][0]["function"]["arguments"]) == 20


def test_an_error_chunk_mid_stream_fails_the_job() -> None:
    with pytest.raises(EngineError) as failed:
        Choices(room=100).add({"error": {"message": "the job was cancelled", "code": "x"}})
    assert failed.value.code == ErrorCode.upstream_error
    assert "cancelled" in str(failed.value)
