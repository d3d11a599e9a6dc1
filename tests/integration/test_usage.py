"""Token quotas and `GET /v1/usage` on real edge and worker processes with real models: the
usage of a job is the engine's own count, by model and UTC day; a user over its quota gets
`429 token_quota` (OpenAI's shape on the OpenAI routes) while others go on; operators see
every user's usage, nobody else may ask."""

import json
import math
import time
from typing import Any

import httpx
import pytest

from contracts.usage import utc_day
from tests.support.client import get_job, submit, ws_connect, ws_follow
from tests.support.stack import Edge, Stack, auth

pytestmark = [pytest.mark.integration, pytest.mark.models]

WINDOW = 3600
QUOTA = 5
TEXTS = {"texts": ["The cat sat on the mat.", "Quarterly revenue grew by eight percent."]}


def usage(edge: Edge, user: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{edge.url}/v1/usage", params=params, headers=auth(user), timeout=10)


async def ended(edge: Edge, job_id: str, user: str) -> dict[str, Any]:
    events = await ws_follow(edge, job_id, user=user)
    assert events[-1]["status"] == "succeeded", events[-1]
    return get_job(edge, job_id, user)


def row(record: dict[str, Any], user: str) -> dict[str, Any]:
    """The usage row one job alone makes: the engine's counts, on the day it ended."""
    prompt, completion = record["usage"]["prompt_tokens"], record["usage"]["completion_tokens"]
    return {
        "user": user,
        "day": utc_day(record["finished_at"]),
        "model": record["model"],
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "jobs": 1,
    }


def assert_over_quota(edge: Edge, user: str, used: int) -> None:
    before = time.time()
    refused = httpx.post(
        f"{edge.url}/v1/jobs", json={"model": "embed", "input": TEXTS}, headers=auth(user)
    )
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "token_quota"
    assert f"{used} tokens of the quota of {QUOTA}" in error["message"]
    resets = math.floor(before / WINDOW) * WINDOW + WINDOW
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(resets)) in error["message"]
    seconds = int(refused.headers["Retry-After"])
    assert resets - time.time() - 2 <= seconds <= resets - before + 1
    openai = httpx.post(
        f"{edge.url}/v1/embeddings", json={"model": "embed", "input": "hi"}, headers=auth(user)
    )
    assert openai.status_code == 429, openai.text
    assert openai.json()["error"]["type"] == "rate_limit_error"
    assert openai.json()["error"]["code"] == "token_quota"
    assert "Retry-After" in openai.headers


async def assert_refused_over_websocket(edge: Edge, user: str) -> None:
    request = {"model": "embed", "input": TEXTS}
    async with ws_connect(edge, user) as connection:
        await connection.send(json.dumps({"type": "submit", "request": request, "ref": "q"}))
        while (message := json.loads(await connection.recv()))["type"] != "error":
            assert message["type"] != "submitted", message
    assert (message["code"], message["ref"]) == ("token_quota", "q")


async def test_quota_and_usage_on_real_processes(stack: Stack) -> None:
    shared = {"RELAYLINE_QUOTA_WINDOW_SECONDS": str(WINDOW)}
    edge = stack.edge(
        env={**shared, "EDGE_TOKENS_PER_WINDOW": str(QUOTA), "EDGE_OPERATORS": "carol"}
    )
    workers = [stack.worker(pool, env=shared, wait=False) for pool in ("embed", "chat")]
    for worker in workers:
        stack.wait_worker(worker)
    assert usage(edge, "alice").json()["quota"]["used"] == 0

    embedded = await ended(edge, submit(edge, model="embed", input=TEXTS), "alice")
    assert embedded["usage"]["prompt_tokens"] > QUOTA  # embeddings inputs are prompt tokens
    mine = usage(edge, "alice")
    assert mine.status_code == 200, mine.text
    report = mine.json()
    assert report["data"] == [row(embedded, "alice")]
    prompt = embedded["usage"]["prompt_tokens"]
    resets = math.floor(time.time() / WINDOW) * WINDOW + WINDOW
    quota = {"limit": QUOTA, "used": prompt, "window_seconds": WINDOW, "resets_at": resets}
    assert report["quota"] == quota
    assert report["days"] == 30 and report["truncated"] is False
    assert_over_quota(edge, "alice", prompt)
    await assert_refused_over_websocket(edge, "alice")

    chatted = await ended(edge, submit(edge, model="chat", user="bob"), "bob")  # unaffected
    assert chatted["usage"]["completion_tokens"] > 0
    assert usage(edge, "bob", days=1).json()["data"] == [row(chatted, "bob")]

    everyone = usage(edge, "carol", all="true")
    assert everyone.status_code == 200, everyone.text
    rows = sorted(everyone.json()["data"], key=lambda item: item["user"])
    assert rows == [row(embedded, "alice"), row(chatted, "bob")]
    assert everyone.json()["quota"]["used"] == 0  # the operator's own
    for value in ("true", "yes", "1"):
        refused = usage(edge, "bob", all=value)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
    assert usage(edge, "carol", all="false").json()["data"] == []


BAD_QUERIES: list[dict[str, Any]] = [
    {"days": "0"},
    {"days": "-1"},
    {"days": "401"},
    {"days": str(2**63)},
    {"days": str(2**64)},
    {"days": "9" * 5000},
    {"days": "NaN"},
    {"days": "inf"},
    {"days": "1.5"},
    {"days": "abc"},
    {"days": ""},
    {"days": "٣"},
    {"all": "maybe"},
    {"all": "\u202e"},
]


async def test_bad_usage_queries_are_a_4xx_in_the_error_shape(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_OPERATORS": "carol"})
    for params in BAD_QUERIES:
        for user in ("alice", "carol"):
            response = usage(edge, user, **params)
            assert response.status_code == 422, (params, response.text)
            assert response.json()["error"]["code"] == "invalid_request", params
    assert usage(edge, "alice", days="400").status_code == 200
    anonymous = httpx.get(f"{edge.url}/v1/usage", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
