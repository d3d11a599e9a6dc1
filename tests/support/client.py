"""Small clients for tests: submit over HTTP, collect events over WebSocket and SSE."""

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.stack import Edge, auth

CHAT_INPUT = {"messages": [{"role": "user", "content": "Tell me about relays."}]}


def submit(edge: Edge, model: str = "sim", user: str = "alice", **body: Any) -> str:
    payload = {"model": model, "input": CHAT_INPUT, **body}
    response = httpx.post(f"{edge.url}/v1/jobs", json=payload, headers=auth(user), timeout=10)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def get_job(edge: Edge, job_id: str, user: str = "alice") -> dict[str, Any]:
    response = httpx.get(f"{edge.url}/v1/jobs/{job_id}", headers=auth(user), timeout=10)
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


def ws_connect(edge: Edge, user: str = "alice", **options: Any) -> Any:
    return connect(edge.ws_url, additional_headers=auth(user), open_timeout=10, **options)


async def ws_events_until_end(
    connection: ClientConnection, job_id: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """Events of one job from an open, subscribed connection, until `job-end` (or `limit`)."""
    events: list[dict[str, Any]] = []
    while limit is None or len(events) < limit:
        message = json.loads(await connection.recv())
        if message.get("job_id") != job_id or "seq" not in message:
            continue
        events.append(message)
        if message["type"] == "job-end":
            break
    return events


async def ws_follow(
    edge: Edge, job_id: str, after: int = 0, user: str = "alice"
) -> list[dict[str, Any]]:
    async with ws_connect(edge, user) as connection:
        await connection.send(json.dumps({"type": "subscribe", "job_id": job_id, "after": after}))
        return await ws_events_until_end(connection, job_id)


def sse_follow(
    edge: Edge,
    job_id: str,
    after: int | None = None,
    last_event_id: int | None = None,
    user: str = "alice",
) -> list[dict[str, Any]]:
    headers = auth(user)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    params = {"after": after} if after is not None else {}
    events: list[dict[str, Any]] = []
    url = f"{edge.url}/v1/jobs/{job_id}/events"
    with httpx.stream("GET", url, headers=headers, params=params, timeout=30) as response:
        assert response.status_code == 200, response.read()
        event_id = None
        for line in response.iter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                assert event["seq"] == event_id
                events.append(event)
    return events


def assert_complete(events: list[dict[str, Any]], after: int = 0) -> None:
    """seq after+1..n with no gap, exactly one job-end, and it is last."""
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(after + 1, after + 1 + len(events))), seqs
    ends = [event for event in events if event["type"] == "job-end"]
    assert len(ends) == 1 and events[-1]["type"] == "job-end"


async def refused_close(connecting: Any) -> tuple[int, str]:
    """A WebSocket the edge accepts and closes at once: its close code and reason."""
    async with connecting as connection:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason
