"""A worker killed mid-answer under a streamed OpenAI Response: what the `openai` client sees
of the `job-reset` (the dropped attempt's message closed `incomplete`, the answer in a new
message at the next `output_index`), and a resume across the reset gives exactly the rest."""

from typing import Any

import httpx
import pytest

from tests.chaos.helpers import worker
from tests.support.openai_clients import openai_client
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.chaos


def test_a_worker_killed_mid_response_shows_as_a_dropped_message_then_the_answer(
    chaos_stack: Stack,
) -> None:
    edge = chaos_stack.edge()
    workers = [worker(chaos_stack, "stream") for _ in range(2)]
    api = openai_client(edge.url)
    stream = api.responses.create(
        model="stream", input="go", background=True, stream=True, max_output_tokens=400
    )
    events: list[Any] = []
    for event in stream:
        events.append(event)
        if sum(e.type == "response.output_text.delta" for e in events) == 5:
            break
    response_id = events[0].response.id
    job_id = response_id.removeprefix("resp_")
    record = httpx.get(f"{edge.url}/v1/jobs/{job_id}", headers=auth(), timeout=10).json()
    assert record["status"] == "running"  # 400 tokens at 40 a second: 10 s to go
    next(w for w in workers if w.worker_id == record["worker"]).kill()
    events += list(stream)  # the same stream, through the reset to the end

    assert [e.sequence_number for e in events] == list(range(len(events)))
    done = [e for e in events if e.type == "response.output_item.done"]
    assert [(e.output_index, e.item.status) for e in done] == [(0, "incomplete"), (1, "incomplete")]
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [e.output_index for e in added] == [0, 1]
    answer = "".join(
        e.delta for e in events if e.type == "response.output_text.delta" and e.output_index == 1
    )
    final = events[-1]
    assert final.type == "response.incomplete"  # cut at max_output_tokens, as asked
    assert final.response.output_text == answer
    assert len(answer.split()) == 400
    stored = api.responses.retrieve(response_id)
    assert stored.output_text == answer and len(stored.output) == 1

    # a resume from before the reset, on another edge, gives exactly the rest
    other = openai_client(chaos_stack.edge().url)
    k = added[0].sequence_number + 2
    rest = list(other.responses.retrieve(response_id, stream=True, starting_after=k))
    assert [e.to_dict() for e in rest] == [e.to_dict() for e in events[k + 1 :]]
