"""Fan-out: one Redis read per event per edge process, however many clients watch. (Slow
clients are cut off: see tests/chaos/test_admission.py.)"""

import asyncio

import pytest

from tests.support.client import assert_complete, submit, ws_follow
from tests.support.metrics import metric
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.on_cluster_too]


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
