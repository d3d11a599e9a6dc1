"""The OpenAI-compatible routes with the official `openai` client, and the `openai` relay
engine against a real upstream server (a second Relayline edge)."""

import asyncio
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from relayline.redis_server import free_port
from tests.support.client import assert_complete, get_job, ws_follow
from tests.support.openai_clients import openai_client
from tests.support.stack import Edge, Stack, auth

pytestmark = pytest.mark.integration

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say something."}]


def client(stack_edge_url: str, key: str = "alice-key") -> openai.OpenAI:
    return openai_client(stack_edge_url, key)


def test_chat_completion_streamed_and_not_is_an_ordinary_job(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("sim")
    api = client(edge.url)

    completion = api.chat.completions.create(
        model="sim",
        messages=MESSAGES,
        max_tokens=8,
        seed=7,
    )
    text = completion.choices[0].message.content
    assert text is not None
    assert len(text.split()) == 8
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 8
    job_id = completion.id.removeprefix("chatcmpl-")
    record = get_job(edge, job_id)  # an ordinary job of its owner, with its event log
    assert record["status"] == "succeeded"
    assert record["output"]["text"] == text
    assert_complete(asyncio.run(ws_follow(edge, job_id)))

    stream = api.chat.completions.create(
        model="sim",
        messages=MESSAGES,
        max_tokens=8,
        seed=7,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text  # same seed, same words
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == completion.usage.total_tokens


def test_embeddings_through_the_openai_client(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("embed")
    api = client(edge.url)
    one = api.embeddings.create(model="embed", input="Relayline relays.")  # base64 by default
    assert len(one.data) == 1
    assert len(one.data[0].embedding) == 384
    many = api.embeddings.create(model="embed", input=["a", "b", "c"], encoding_format="float")
    assert [item.index for item in many.data] == [0, 1, 2]
    assert many.usage.prompt_tokens > 0


def test_openai_errors_have_openai_shape(stack: Stack) -> None:
    edge = stack.edge()
    api = client(edge.url)
    with pytest.raises(openai.NotFoundError) as missing:
        api.chat.completions.create(model="nope", messages=MESSAGES)
    body = missing.value.body
    assert isinstance(body, dict)
    assert body["code"] == "model_not_found"
    assert body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as empty:
        api.chat.completions.create(model="sim", messages=[])
    assert isinstance(empty.value.body, dict)
    assert empty.value.body["code"] == "invalid_request"
    with pytest.raises(openai.BadRequestError):
        api.embeddings.create(model="sim", input="wrong kind of model")
    with pytest.raises(openai.AuthenticationError):
        client(edge.url, key="bad").chat.completions.create(model="sim", messages=MESSAGES)
    raw = httpx.post(f"{edge.url}/v1/chat/completions", headers=auth(), content=b"{")
    assert raw.status_code == 400
    assert set(raw.json()["error"]) == {"message", "type", "param", "code"}


def relay_pools(path: Path, base_url: str, upstream_model: str) -> Path:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    path.write_text(
        f"""
[pools.relay]
kind = "chat"
engine = "openai"
model = "{upstream_model}"
options = {{ base_url = "{base_url}", api_key = "alice-key", retries = 1, timeout = 10 }}

[pools.down]
kind = "chat"
engine = "openai"
model = "any"
options = {{ base_url = "{down}", retries = 2, timeout = 5 }}
"""
    )
    return path


def test_the_openai_engine_relays_a_stream_and_maps_failures(stack: Stack, tmp_path: Path) -> None:
    upstream = stack.edge()
    stack.worker("slow")
    pools = relay_pools(tmp_path / "relay.toml", f"{upstream.url}/v1", "slow")
    relay = Stack(stack.redis_url, tmp_path, pools_file=pools)
    broken = Stack(
        stack.redis_url,
        tmp_path,
        pools_file=relay_pools(tmp_path / "broken.toml", f"{upstream.url}/v1", "no-such-model"),
    )
    try:
        edge = relay.edge()
        relay.worker("relay")
        chunks = list(
            client(edge.url).chat.completions.create(
                model="relay",
                messages=MESSAGES,
                max_tokens=12,
                seed=3,
                stream=True,
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert len(text.split()) == 12
        direct = client(upstream.url).chat.completions.create(
            model="slow",
            messages=MESSAGES,
            max_tokens=12,
            seed=3,
        )
        assert text == direct.choices[0].message.content

        broken_edge = broken.edge()
        broken.worker("relay")
        with pytest.raises(openai.APIStatusError) as failure:
            client(broken_edge.url).chat.completions.create(model="relay", messages=MESSAGES)
        assert failure.value.status_code == 502
        assert isinstance(failure.value.body, dict)
        assert failure.value.body["code"] == "upstream_error"
        assert (
            "model_not_found" in failure.value.body["message"]
            or "no-such-model" in (failure.value.body["message"])
        )
    finally:
        relay.close()
        broken.close()


def test_fields_no_engine_honours_are_refused_naming_them(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("sim")
    api = client(edge.url)
    with pytest.raises(openai.BadRequestError) as refused:
        api.chat.completions.create(model="sim", messages=MESSAGES, logprobs=True)
    assert refused.value.param == "logprobs"
    assert refused.value.code == "unsupported_parameter"
    with pytest.raises(openai.BadRequestError) as json_mode:
        api.chat.completions.create(
            model="sim", messages=MESSAGES, response_format={"type": "json_object"}
        )
    assert json_mode.value.param == "response_format"
    # values that change nothing are accepted, and the answer is an ordinary one
    completion = api.chat.completions.create(
        model="sim",
        messages=MESSAGES,
        max_tokens=3,
        logprobs=False,
        n=1,
        response_format={"type": "text"},
        tool_choice="none",
        parallel_tool_calls=False,
        user="u-1",
        metadata={"team": "relay"},
        store=False,
    )
    assert completion.choices[0].finish_reason == "length"


REFUSED: list[tuple[str, object]] = [
    ("n", 2),
    ("logprobs", True),
    ("top_logprobs", 3),
    ("tools", [{"type": "function", "function": {"name": "f"}}]),
    ("tool_choice", "required"),
    ("functions", [{"name": "f"}]),
    ("response_format", {"type": "json_schema", "json_schema": {"name": "x"}}),
    ("modalities", ["text", "audio"]),
    ("audio", {"voice": "alloy", "format": "wav"}),
    ("logit_bias", {"50256": -100}),
    ("presence_penalty", 0.5),
    ("reasoning_effort", "low"),
]
NOT_COERCED: list[tuple[str, object, str]] = [
    ("n", True, "n"),
    ("logprobs", 1, "logprobs"),
    ("stream", "yes", "stream"),
    ("stream", 1, "stream"),
    ("stream_options", {"include_usage": "yes"}, "stream_options.include_usage"),
    ("seed", True, "seed"),
    ("seed", "1", "seed"),
    ("seed", 1.0, "seed"),
    ("max_tokens", "8", "max_tokens"),
    ("max_tokens", True, "max_tokens"),
    ("temperature", "0.5", "temperature"),
    ("store", "false", "store"),
]


def test_refused_fields_and_uncoerced_types_are_400s_naming_the_field(stack: Stack) -> None:
    edge = stack.edge()
    url = f"{edge.url}/v1/chat/completions"
    cases = [(name, value, name, "unsupported_parameter") for name, value in REFUSED]
    cases += [(name, value, param, "invalid_request") for name, value, param in NOT_COERCED]
    for name, value, param, code in cases:
        body = {"model": "sim", "messages": MESSAGES, name: value}
        response = httpx.post(url, json=body, headers=auth(), timeout=10)
        assert response.status_code == 400, (name, value, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error", error
        assert (error["param"], error["code"]) == (param, code), (name, value, error)
        assert name in error["message"], error
    dimensions = {"model": "embed", "input": "hi", "dimensions": True}
    response = httpx.post(f"{edge.url}/v1/embeddings", json=dimensions, headers=auth(), timeout=10)
    assert response.status_code == 400 and response.json()["error"]["param"] == "dimensions"
    assert get_jobs_count(edge) == 0  # nothing was queued


def get_jobs_count(edge: Edge) -> int:
    response = httpx.get(f"{edge.url}/v1/jobs", headers=auth(), timeout=10)
    return len(response.json()["data"])
