"""`tools`, `tool_choice`, `response_format`, `logprobs`, `top_logprobs` and `n` through the
official `openai` client against real edges: refused by a pool whose engine cannot honour
them, forwarded by an `openai`-engine pool to its upstream (a second Relayline edge), never
ignored."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from relayline.redis_server import free_port
from tests.integration.test_openai import client, get_jobs_count, relay_pools
from tests.support.client import get_job
from tests.support.stack import Edge, Stack, auth
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "The weather in a city, now.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "default": None}},
                "required": ["city"],
            },
        },
    }
]


def test_tools_on_the_local_model_are_a_400_naming_them(stack: Stack) -> None:
    edge = stack.edge()  # refused at submit: no worker needed, nothing queued
    with client(edge.url) as api, pytest.raises(openai.BadRequestError) as refused:
        api.chat.completions.create(model="chat", messages=MESSAGES, tools=TOOLS)
    assert refused.value.code == "unsupported_parameter"
    assert refused.value.param == "tools"
    assert "'chat'" in refused.value.message and "transformers" in refused.value.message
    with client(edge.url) as api, pytest.raises(openai.BadRequestError) as choices:
        api.chat.completions.create(model="chat", messages=MESSAGES, n=2)
    assert (choices.value.code, choices.value.param) == ("unsupported_parameter", "n")
    job = {"model": "chat", "input": {"messages": MESSAGES}, "params": {"tools": TOOLS}}
    response = httpx.post(f"{edge.url}/v1/jobs", json=job, headers=auth(), timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unsupported_parameter"
    assert get_jobs_count(edge) == 0


def _deep(levels: int) -> str:
    return '{"a":' * levels + "{}" + "}" * levels


HOSTILE: list[tuple[str, str]] = [  # (the raw JSON of the field, the param named)
    ('"n": 0', "n"),
    ('"n": -1', "n"),
    ('"n": 1000000000', "n"),
    ('"n": 18446744073709551616', "n"),
    ('"n": NaN', "n"),
    ('"n": 2.5', "n"),
    ('"n": "2"', "n"),
    ('"top_logprobs": 1e308', "top_logprobs"),
    ('"logprobs": "true"', "logprobs"),
    ('"tools": {}', "tools"),
    ('"tools": [' + ",".join(['{"type":"function","function":{"name":"f"}}'] * 129) + "]", "tools"),
    ('"tools": [{"type":"function","function":{"name":"' + "é" * 10 + '"}}]', "tools"),
    (
        '"tools": [{"type":"function","function":{"name":"f","parameters":' + _deep(40) + "}}]",
        "tools",
    ),
    ('"tools": [{"type":"function","function":{"name":"f","parameters":' + _deep(5000) + "}}]", ""),
    ('"tool_choice": "sometimes"', "tool_choice"),
    ('"response_format": {"type": "yaml"}', "response_format"),
]


def test_hostile_values_are_400s_and_queue_nothing(stack: Stack) -> None:
    edge = stack.edge()
    head = '{"model": "chat", "messages": [{"role": "user", "content": "hi"}], '
    for field, param in HOSTILE:
        response = httpx.post(
            f"{edge.url}/v1/chat/completions",
            content=(head + field + "}").encode(),
            headers={**auth(), "content-type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 400, (field[:80], response.text[:300])
        error = response.json()["error"]
        assert error["code"] in ("invalid_request", "invalid_json"), (field[:80], error)
        assert (error["param"] or "").startswith(param), (field[:80], error)
    assert get_jobs_count(edge) == 0


def dead_end_pools(path: Path) -> Path:
    """A pool of the upstream edge that forwards too, to a port where nothing listens: its
    jobs wait queued (no worker serves it) until cancelled."""
    path.write_text(
        f"""
[pools.fwd]
kind = "chat"
engine = "openai"
model = "any"
options = {{ base_url = "http://127.0.0.1:{free_port()}/v1", retries = 0, timeout = 5 }}
"""
    )
    return path


def queued_job(edge: Edge, model: str) -> str:
    """The id of the caller's job of `model` on `edge`, or '' (none yet)."""
    jobs = httpx.get(f"{edge.url}/v1/jobs", headers=auth(), timeout=10).json()["data"]
    return next((str(job["id"]) for job in jobs if job["model"] == model), "")


def test_an_openai_engine_pool_forwards_them_to_its_upstream(stack: Stack, tmp_path: Path) -> None:
    upstream = Stack(stack.redis_url, tmp_path, pools_file=dead_end_pools(tmp_path / "up.toml"))
    upstream_edge = upstream.edge()
    relay_file = relay_pools(tmp_path / "relay.toml", f"{upstream_edge.url}/v1", "fwd")
    relay = Stack(stack.redis_url, tmp_path, pools_file=relay_file)
    sent: dict[str, Any] = {
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "response_format": {"type": "json_object"},
        "logprobs": True,
        "top_logprobs": 2,
        "n": 2,
    }
    try:
        edge = relay.edge()
        relay.worker("relay")
        with client(edge.url) as api, ThreadPoolExecutor(1) as pool:
            answer = pool.submit(
                lambda: api.chat.completions.create(model="relay", messages=MESSAGES, **sent)
            )
            upstream_id = wait_for(
                lambda: queued_job(upstream_edge, "fwd"), 60, "the upstream edge's job"
            )
            with upstream.redis() as redis:
                envelope = redis.hget(upstream.keys.job(upstream_id), "envelope")
            assert envelope is not None
            assert {name: json.loads(envelope)["params"].get(name) for name in sent} == sent
            cancel = f"{upstream_edge.url}/v1/jobs/{upstream_id}/cancel"
            assert httpx.post(cancel, headers=auth(), timeout=10).status_code == 202
            with pytest.raises(openai.APIStatusError) as failed:
                answer.result(timeout=60)
        assert failed.value.status_code == 502  # the upstream's answer, relayed: cancelled
        assert isinstance(failed.value.body, dict) and "cancelled" in failed.value.body["message"]
        relayed = get_job(edge, failed.value.response.headers["X-Relayline-Job-Id"])
        assert relayed["status"] == "failed"
        assert relayed["error"]["code"] == "upstream_error"
    finally:
        relay.close()
        upstream.close()
