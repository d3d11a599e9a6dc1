"""Fan-out: one Redis read per event per edge process, bounded per-client queues."""

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from contracts.errors import WS_CLOSE_SLOW_CONSUMER
from tests.support.client import assert_complete, submit, ws_connect, ws_follow
from tests.support.metrics import metric
from tests.support.stack import Stack
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration


async def test_many_clients_cost_one_read_per_event(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("slow", env={"WORKER_COALESCE_MS": "0"})
    job_id = submit(edge, model="slow", params={"max_tokens": 30})
    reads_before = metric(edge, "relayline_fanout_reads_total")
    sent_before = metric(edge, "relayline_events_sent_total")

    transcripts = await asyncio.gather(*(ws_follow(edge, job_id) for _ in range(20)))

    for transcript in transcripts:
        assert_complete(transcript)
        assert transcript == transcripts[0]
    events = len(transcripts[0])
    reads = metric(edge, "relayline_fanout_reads_total") - reads_before
    sent = metric(edge, "relayline_events_sent_total") - sent_before
    assert sent == 20 * events
    # Every read returns at least one event for all 20 clients at once: never one per client.
    assert 1 <= reads <= events


async def test_a_client_that_does_not_read_is_cut_off(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_CLIENT_QUEUE_SIZE": "16"})
    stack.worker("flood", env={"WORKER_COALESCE_MS": "0"})
    job_id = submit(edge, model="flood")
    # max_queue=1: the client stops reading its socket as soon as one message waits.
    async with ws_connect(edge, max_queue=1) as stalled:
        await stalled.send(json.dumps({"type": "subscribe", "job_id": job_id}))
        await async_wait_for(
            lambda: asyncio.to_thread(metric, edge, "relayline_slow_clients_total"),
            timeout=60,
            what="the edge to cut off the stalled client",
        )
        # Meanwhile another client is served normally, by the same edge.
        other = submit(edge, model="flood", params={"max_tokens": 50})
        assert_complete(await ws_follow(edge, other))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await stalled.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == WS_CLOSE_SLOW_CONSUMER
