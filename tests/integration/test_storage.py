"""Bytes in Redis: a job's output is stored once (in its record; the edge adds it to
`job-end` as it delivers it), and the event log has a retention of its own, after which a
resume gets `events_expired` with the final record instead of a hang."""

import json
from typing import Any, cast

import httpx
import pytest

from tests.support.client import assert_complete, sse_follow, submit, ws_connect, ws_follow
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration


async def test_the_output_is_stored_once_and_delivered_with_job_end(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("sim")
    job_id = submit(edge, model="sim", params={"max_tokens": 12})
    events = await ws_follow(edge, job_id)
    assert_complete(events)
    client = stack.redis()
    try:
        entries = cast(list[tuple[str, dict[str, str]]], client.xrange(stack.keys.events(job_id)))
        stored_end = json.loads(entries[-1][1]["e"])
        record_output = json.loads(cast(str, client.hget(stack.keys.job(job_id), "output")))
    finally:
        client.close()
    assert stored_end["type"] == "job-end" and "output" not in stored_end
    assert record_output["text"]
    assert events[-1]["output"] == record_output  # live, over the WebSocket
    assert sse_follow(edge, job_id)[-1]["output"] == record_output  # catch-up, over SSE
    assert (await ws_follow(edge, job_id, after=len(events) - 1))[-1]["output"] == record_output


async def test_a_resume_after_the_log_expired_gets_events_expired_and_the_record(
    stack: Stack,
) -> None:
    edge = stack.edge(env={"EDGE_EVENT_LOG_RETENTION_SECONDS": "60"})
    stack.worker("sim")
    job_id = submit(edge, model="sim", params={"max_tokens": 5})
    events = await ws_follow(edge, job_id)
    client = stack.redis()
    try:
        log_ttl = client.ttl(stack.keys.events(job_id))
        record_ttl = client.ttl(stack.keys.job(job_id))
        assert 0 < log_ttl <= 60 < record_ttl  # a retention of its own, shorter
        client.delete(stack.keys.events(job_id))  # what its expiry does
    finally:
        client.close()
    url = f"{edge.url}/v1/jobs/{job_id}/events"
    response = httpx.get(url, headers=auth(), timeout=10)
    assert response.status_code == 410, response.text
    body = response.json()
    assert body["error"]["code"] == "events_expired"
    assert body["record"]["output"] == events[-1]["output"]
    async with ws_connect(edge) as connection:
        await connection.send(json.dumps({"type": "subscribe", "job_id": job_id, "after": 2}))
        replies: list[dict[str, Any]] = []
        while not replies or replies[-1]["type"] != "error":
            replies.append(json.loads(await connection.recv()))
    error = replies[-1]
    assert error["code"] == "events_expired" and error["job_id"] == job_id
    assert error["record"]["status"] == "succeeded"
    assert error["record"]["output"] == events[-1]["output"]
    # nothing left to send is still answered at once, without an error
    last = events[-1]["seq"]
    assert httpx.get(url, params={"after": last}, headers=auth(), timeout=10).status_code == 200
