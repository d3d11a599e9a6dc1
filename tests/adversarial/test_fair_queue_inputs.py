"""Hostile input to the fair queue's surface on real edge and worker processes: `priority` of
every wrong shape on every way in, a waiting job's position as jobs ahead of it come and go,
and `GET /v1/queue` for callers who are not operators."""

import json
from typing import Any

import httpx
import pytest

from tests.support.client import CHAT_INPUT, ws_connect
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

BAD_PRIORITIES: list[Any] = [
    "BATCH",
    "Batch",
    " batch",
    "batch\u0000",
    "bätch",
    "",
    None,
    0,
    1,
    2**64,
    1.5,
    True,
    [],
    {},
    ["batch"],
    {"batch": True},
    "x" * 100_000,
]


def post(url: str, path: str, body: dict[str, Any], user: str = "alice") -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, headers=auth(user), timeout=30)


def job(priority: Any = ..., model: str = "sim") -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": CHAT_INPUT}
    if priority is not ...:
        body["priority"] = priority
    return body


def position(url: str, job_id: str, user: str = "alice") -> Any:
    response = httpx.get(f"{url}/v1/jobs/{job_id}", headers=auth(user), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["position"]


async def test_a_bad_priority_is_a_4xx_on_every_way_in_and_queues_nothing(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_OPERATORS": "carol"})
    for priority in BAD_PRIORITIES:
        response = post(edge.url, "/v1/jobs", job(priority))
        assert response.status_code == 422, (priority, response.text)
        assert response.json()["error"]["code"] == "invalid_request", priority
    async with ws_connect(edge) as connection:
        for priority in BAD_PRIORITIES[:6]:
            request = {"type": "submit", "request": job(priority), "ref": "r"}
            await connection.send(json.dumps(request))
            reply = json.loads(await connection.recv())
            assert reply["type"] == "error" and reply["code"] == "invalid_request", reply
        await connection.send(json.dumps({"type": "ping", "ref": "p"}))
        assert json.loads(await connection.recv()) == {"type": "pong", "ref": "p"}
    listed = httpx.get(f"{edge.url}/v1/jobs", headers=auth(), timeout=10).json()
    assert listed["data"] == []
    queue = httpx.get(f"{edge.url}/v1/queue", headers=auth("carol"), timeout=10).json()
    assert all(pool["users"] == [] for pool in queue["data"]), queue


def test_openai_routes_ignore_a_priority_and_stay_interactive(stack: Stack) -> None:
    """OpenAI's request bodies have no `priority`: whatever a client puts there (an SDK's
    `extra_body`) is ignored as OpenAI ignores unknown fields, never a 5xx, and the job is
    interactive."""
    edge = stack.edge()
    stack.worker("sim")
    for priority in ["batch", "BATCH", None, 7, {"x": 1}, "x" * 10_000]:
        body = {
            "model": "sim",
            "messages": CHAT_INPUT["messages"],
            "max_tokens": 2,
            "priority": priority,
        }
        response = post(edge.url, "/v1/chat/completions", body)
        assert response.status_code == 200, (priority, response.text)
    listed = httpx.get(f"{edge.url}/v1/jobs", headers=auth(), timeout=10).json()["data"]
    assert len(listed) == 6
    assert {record["priority"] for record in listed} == {"interactive"}


def test_positions_follow_jobs_ahead_coming_and_going(stack: Stack) -> None:
    """No worker: every job waits. A batch job waits behind every interactive job of its
    shard's queue, whoever submitted it; a cancel ahead moves it up; the listing shows the
    same positions as each record."""
    edge = stack.edge()
    batch = post(edge.url, "/v1/jobs", job("batch")).json()["id"]
    assert position(edge.url, batch) == 0
    chats = [post(edge.url, "/v1/jobs", job()).json()["id"] for _ in range(3)]
    assert [position(edge.url, job_id) for job_id in chats] == [0, 1, 2]
    assert position(edge.url, batch) == 3
    cancelled = post(edge.url, f"/v1/jobs/{chats[0]}/cancel", {})
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["position"] is None
    assert [position(edge.url, job_id) for job_id in (*chats[1:], batch)] == [0, 1, 2]
    listed = httpx.get(f"{edge.url}/v1/jobs", headers=auth(), timeout=10).json()["data"]
    assert {r["id"]: r["position"] for r in listed} == {
        chats[0]: None,
        chats[1]: 0,
        chats[2]: 1,
        batch: 2,
    }


def test_the_queue_report_is_for_operators_only(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_OPERATORS": " carol ,", "EDGE_GUEST_MODE": "true"})
    post(edge.url, "/v1/jobs", job("batch"))
    for headers in (auth("alice"), auth("bob"), {}):  # keyed users, then a guest
        response = httpx.get(f"{edge.url}/v1/queue", headers=headers, timeout=10)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
    wrong_key = httpx.get(
        f"{edge.url}/v1/queue", headers={"Authorization": "Bearer carol"}, timeout=10
    )
    assert wrong_key.status_code == 401, wrong_key.text
    report = httpx.get(f"{edge.url}/v1/queue", headers=auth("carol"), timeout=10).json()
    sim = next(pool for pool in report["data"] if pool["pool"] == "sim")
    assert sim["users"] == [{"user": "alice", "interactive": 0, "batch": 1}]
