"""The job path end to end: HTTP submit, worker, event log, WebSocket and SSE delivery."""

import asyncio
import json

import httpx
import pytest

from tests.support.client import (
    assert_complete,
    get_job,
    sse_follow,
    submit,
    ws_connect,
    ws_events_until_end,
    ws_follow,
)
from tests.support.stack import Stack, auth
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.on_cluster_too]


async def test_submit_then_events_over_ws_and_sse(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("sim")
    job_id = submit(edge, params={"max_tokens": 12})

    ws_events = await ws_follow(edge, job_id)
    assert_complete(ws_events)
    types = [event["type"] for event in ws_events]
    assert types[:2] == ["job-queued", "job-start"]
    assert "text-delta" in types
    end = ws_events[-1]
    assert end["status"] == "succeeded"
    text = "".join(event["delta"] for event in ws_events if event["type"] == "text-delta")
    assert text == end["output"]["text"] and len(text.split()) == 12
    assert end["usage"]["completion_tokens"] == 12

    sse_events = await asyncio.to_thread(sse_follow, edge, job_id)
    assert sse_events == ws_events

    record = get_job(edge, job_id)
    assert record["status"] == "succeeded" and record["last_seq"] == end["seq"]
    listed = httpx.get(f"{edge.url}/v1/jobs", headers=auth(), timeout=10).json()
    assert [job["id"] for job in listed["data"]] == [job_id]
    models = httpx.get(f"{edge.url}/v1/models", headers=auth(), timeout=10).json()["data"]
    sim = next(model for model in models if model["id"] == "sim")
    assert sim["workers"] == 1
    assert sim["done"] == 1
    assert sim["queued"] == 0


async def test_two_edges_deliver_identical_sequences(stack: Stack) -> None:
    first, second = stack.edge(), stack.edge()
    stack.worker("slow")
    job_id = submit(first, model="slow", params={"max_tokens": 30})
    # Both follow the job live, each through its own edge process.
    from_first, from_second = await asyncio.gather(
        ws_follow(first, job_id), ws_follow(second, job_id)
    )
    assert_complete(from_first)
    assert from_first == from_second


async def test_resume_after_disconnect_gets_exactly_the_rest(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("slow")
    job_id = submit(edge, model="slow", params={"max_tokens": 40})
    async with ws_connect(edge) as connection:
        await connection.send(json.dumps({"type": "subscribe", "job_id": job_id}))
        head = await ws_events_until_end(connection, job_id, limit=5)
    k = head[-1]["seq"]
    assert k == 5

    rest = await ws_follow(edge, job_id, after=k)
    assert_complete(rest, after=k)
    full = await ws_follow(edge, job_id)
    assert head + rest == full

    by_header = await asyncio.to_thread(sse_follow, edge, job_id, None, k)
    by_query = await asyncio.to_thread(sse_follow, edge, job_id, k)
    assert by_header == by_query == rest

    # Resuming an ended job from its last seq: nothing to send, and the server says so.
    last = full[-1]["seq"]
    assert await asyncio.to_thread(sse_follow, edge, job_id, last) == []
    async with ws_connect(edge) as connection:
        await connection.send(json.dumps({"type": "subscribe", "job_id": job_id, "after": last}))
        replies = [json.loads(await connection.recv()) for _ in range(2)]
    assert [reply["type"] for reply in replies] == ["subscribed", "unsubscribed"]


async def test_jobs_queued_before_any_worker_run_when_one_starts(stack: Stack) -> None:
    edge = stack.edge()
    job_ids = [submit(edge, params={"max_tokens": 3}) for _ in range(3)]
    assert all(get_job(edge, job_id)["status"] == "queued" for job_id in job_ids)
    stack.worker("sim")
    for job_id in job_ids:
        events = await ws_follow(edge, job_id)
        assert_complete(events)
        assert events[-1]["status"] == "succeeded"


async def test_cancel_stops_a_running_job_within_one_step(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("slow", env={"WORKER_COALESCE_MS": "0"})
    job_id = submit(edge, model="slow", params={"max_tokens": 400})
    async with ws_connect(edge) as connection:
        await connection.send(json.dumps({"type": "subscribe", "job_id": job_id}))
        head = await ws_events_until_end(connection, job_id, limit=6)
        assert head[-1]["type"] == "text-delta"
        response = httpx.post(f"{edge.url}/v1/jobs/{job_id}/cancel", headers=auth(), timeout=10)
        assert response.status_code == 202
        # The record read after the cancel was flagged: the log's last seq at that moment.
        flagged_at = response.json()["last_seq"]
        rest = await ws_events_until_end(connection, job_id)
    events = head + rest
    assert_complete(events)
    assert events[-1]["status"] == "cancelled"
    # The worker learns of the cancel from the answer to its next append and writes no text
    # after it: at most that one append follows the flag, far fewer than the 400 asked for.
    late = [e for e in events if e["type"] == "text-delta" and e["seq"] > flagged_at]
    assert len(late) <= 1, late
    assert get_job(edge, job_id)["status"] == "cancelled"


async def test_cancel_of_a_queued_job_ends_it_at_once(stack: Stack) -> None:
    edge = stack.edge()
    job_id = submit(edge)
    response = httpx.post(f"{edge.url}/v1/jobs/{job_id}/cancel", headers=auth(), timeout=10)
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    events = await ws_follow(edge, job_id)
    assert [event["type"] for event in events] == ["job-queued", "job-end"]
    # It left its queue: a worker that starts later runs the next job, never this one.
    client = stack.redis()
    shard = stack.keys.shard_of_job(job_id)
    assert client.zscore(stack.keys.waiting("sim", shard, "interactive"), job_id) is None
    worker = stack.worker("sim")
    later = submit(edge)
    wait_for(lambda: get_job(edge, later)["status"] == "succeeded", what="the next job to run")
    record = get_job(edge, job_id)
    assert record["status"] == "cancelled" and record["attempt"] == 0
    assert worker.alive()
