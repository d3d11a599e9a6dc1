"""Edge faults: a client keeps an exact transcript when its edge dies or shuts down."""

import asyncio
import signal

import pytest

from tests.chaos.checker import check, follow_live
from tests.chaos.helpers import events_seen, submit, worker
from tests.support.stack import Stack

pytestmark = pytest.mark.chaos

WS_GOING_AWAY = 1001


async def test_kill_9_an_edge_mid_stream_and_the_client_resumes_on_another(
    chaos_stack: Stack,
) -> None:
    dying, surviving = chaos_stack.edge(), chaos_stack.edge()
    await asyncio.to_thread(worker, chaos_stack, "stream")
    job_id = submit(dying, "stream", max_tokens=80)
    live, following = follow_live([dying, surviving], job_id)
    await events_seen(live.events, "text-delta", 5)
    dying.kill()
    transcript = await following
    check(transcript)  # no gap, no duplicate across the switch of edge
    assert transcript.reconnects >= 1
    assert transcript.end is not None
    assert transcript.end["status"] == "succeeded"
    assert not any(event["type"] == "job-reset" for event in transcript.events)


async def test_sigterm_on_an_edge_closes_sockets_with_1001_and_clients_resume(
    chaos_stack: Stack,
) -> None:
    leaving, staying = chaos_stack.edge(), chaos_stack.edge()
    await asyncio.to_thread(worker, chaos_stack, "stream")
    job_ids = [submit(staying, "stream", max_tokens=60) for _ in range(3)]
    lives, followers = zip(
        *(follow_live([leaving, staying], job_id) for job_id in job_ids),
        strict=True,
    )
    for live in lives:
        await events_seen(live.events, "text-delta", 2)
    leaving.signal(signal.SIGTERM)
    transcripts = await asyncio.gather(*followers)
    await asyncio.to_thread(leaving.popen.wait, 20)
    # uvicorn re-raises SIGTERM once its graceful shutdown is done.
    assert leaving.popen.returncode in (0, -signal.SIGTERM)
    for transcript in transcripts:
        check(transcript)
        assert transcript.close_codes[0] == WS_GOING_AWAY
        assert transcript.end is not None
        assert transcript.end["status"] == "succeeded"
