"""OpenAI's Responses API in background mode, with the official `openai` client, unmodified,
against real edges, Redis and worker processes: poll to completed, a streamed response
resumed on a second edge from a `sequence_number`, cancel, delete."""

import asyncio
import signal
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import Response

from tests.support.client import assert_complete, get_job, ws_follow
from tests.support.openai_clients import openai_client
from tests.support.stack import LIFTED_LIMITS, Edge, Stack, auth
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

QUESTION = "Tell me about the for statement."


def client(edge: Edge, key: str = "alice-key") -> openai.OpenAI:
    return openai_client(edge.url, key)


def job_of(response_id: str) -> str:
    assert response_id.startswith("resp_")
    return response_id.removeprefix("resp_")


@pytest.mark.models
def test_a_background_response_is_polled_to_completed(stack: Stack) -> None:
    edge = stack.edge(LIFTED_LIMITS)  # polled without a pause
    stack.worker("chat")
    api = client(edge)
    created = api.responses.create(
        model="chat",
        input=[{"role": "user", "content": [{"type": "input_text", "text": QUESTION}]}],
        instructions="Answer briefly.",
        background=True,
        max_output_tokens=200,
        temperature=0,
        metadata={"team": "relay"},
    )
    assert created.status == "queued"
    assert created.background is True

    def ended() -> Response | None:
        response = api.responses.retrieve(created.id)
        return None if response.status in ("queued", "in_progress") else response

    done = wait_for(ended, timeout=60, what="the response ended")
    assert done is not None
    assert done.status == "completed", done.status  # the model's end token, within 200
    assert done.output_text.strip()
    assert done.model_dump()["output"][0]["content"][0]["text"] == done.output_text
    assert done.usage is not None and 0 < done.usage.output_tokens < 200
    assert done.instructions == "Answer briefly." and done.metadata == {"team": "relay"}
    record = get_job(edge, job_of(done.id))  # an ordinary job of its owner
    assert record["output"]["text"] == done.output_text
    assert record["usage"]["completion_tokens"] == done.usage.output_tokens


def read_until(stream: Any, deltas: int) -> list[Any]:
    """Events of a stream up to its `deltas`-th text delta; then the connection is dropped."""
    events = []
    for event in stream:
        events.append(event)
        if sum(e.type == "response.output_text.delta" for e in events) == deltas:
            break
    stream.close()
    return events


def text_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


@pytest.mark.models
def test_a_streamed_response_resumes_on_a_second_edge_from_a_sequence_number(
    stack: Stack,
) -> None:
    first, second = stack.edge(), stack.edge()
    stack.worker("chat", env={"WORKER_COALESCE_MS": "0"})
    stream = client(first).responses.create(
        model="chat", input=QUESTION, background=True, stream=True, temperature=0
    )
    head = read_until(stream, deltas=5)
    assert [e.sequence_number for e in head] == list(range(len(head)))
    assert head[0].type == "response.created" and head[0].response.status == "queued"
    response_id, k = head[0].response.id, head[-1].sequence_number

    api = client(second)
    rest = list(api.responses.retrieve(response_id, stream=True, starting_after=k))
    assert [e.sequence_number for e in rest] == list(range(k + 1, k + 1 + len(rest)))
    assert rest[-1].type == "response.completed"
    stored = api.responses.retrieve(response_id)
    assert stored.status == "completed"
    assert text_of(head) + text_of(rest) == stored.output_text
    assert stored.output_text.strip()
    # exactly the events after k: the same as those of a whole replay, from either edge
    whole = list(client(first).responses.retrieve(response_id, stream=True))
    assert [e.to_dict() for e in whole[k + 1 :]] == [e.to_dict() for e in rest]
    assert [e.to_dict() for e in whole[: k + 1]] == [e.to_dict() for e in head]

    with api.responses.stream(response_id=response_id, starting_after=k) as resumed:
        numbers = [event.sequence_number for event in resumed]
        final = resumed.get_final_response()
    assert numbers == list(range(k + 1, k + 1 + len(rest)))
    assert final.output_text == stored.output_text


def test_cancel_stops_the_model(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("slow", env={"WORKER_COALESCE_MS": "0"})
    api = client(edge)
    stream = api.responses.create(
        model="slow", input=QUESTION, background=True, stream=True, max_output_tokens=2000
    )
    head = read_until(stream, deltas=3)
    response_id = head[0].response.id
    cancelled = api.responses.cancel(response_id)
    assert cancelled.status == "cancelled"
    events = asyncio.run(ws_follow(edge, job_of(response_id)))
    assert_complete(events)
    assert events[-1]["status"] == "cancelled"
    # 2000 tokens at 20 a second (100 s) were asked for, one event each: the model stopped
    # long before (a few tokens after the cancel; the bound leaves a loaded machine 20 s)
    generated = sum(e["type"] == "text-delta" for e in events)
    assert generated < 400, generated
    rest = [e.model_dump() for e in api.responses.retrieve(response_id, stream=True)]
    assert rest[-1]["type"] == "response.cancelled"  # not among the SDK's types: passed on
    assert rest[-1]["response"]["status"] == "cancelled"
    assert rest[-2]["type"] == "response.output_item.done"
    assert rest[-2]["item"]["status"] == "incomplete"
    assert api.responses.retrieve(response_id).status == "cancelled"


@pytest.mark.on_cluster_too  # the delete script's keys share one slot
def test_not_background_and_plain_stream_and_delete(stack: Stack) -> None:
    edge = stack.edge()
    stack.worker("sim")
    api = client(edge)
    done = api.responses.create(model="sim", input=QUESTION, max_output_tokens=6)
    assert done.status == "incomplete"  # cut at max_output_tokens, as OpenAI says it
    assert done.incomplete_details is not None
    assert done.incomplete_details.reason == "max_output_tokens"
    assert len(done.output_text.split()) == 6
    whole = api.responses.create(model="sim", input=QUESTION)
    assert whole.status == "incomplete"  # the simulated engine always stops at its length
    with api.responses.stream(model="sim", input=QUESTION, max_output_tokens=5) as stream:
        events = list(stream)
    assert [e.type for e in events[:2]] == ["response.created", "response.in_progress"]
    assert events[-1].type == "response.incomplete"
    assert len(events[-1].response.output_text.split()) == 5
    assert events[-1].response.output_text == text_of(events)

    api.responses.delete(done.id)
    with pytest.raises(openai.NotFoundError):
        api.responses.retrieve(done.id)
    missing = httpx.get(f"{edge.url}/v1/jobs/{job_of(done.id)}", headers=auth(), timeout=10)
    assert missing.status_code == 404
    with pytest.raises(openai.NotFoundError):
        api.responses.delete(done.id)


def test_deleting_a_running_response_cancels_it_first(stack: Stack) -> None:
    edge = stack.edge(LIFTED_LIMITS)
    stack.worker("slow")
    api = client(edge)
    stream = api.responses.create(
        model="slow", input=QUESTION, background=True, stream=True, max_output_tokens=400
    )
    response_id = read_until(stream, deltas=2)[0].response.id
    api.responses.delete(response_id)
    with pytest.raises(openai.NotFoundError):
        api.responses.retrieve(response_id, stream=True, starting_after=0)
    queued = api.responses.create(
        model="slow", input=QUESTION, background=True, max_output_tokens=3
    )
    assert queued.status == "queued"  # the only worker is free again, or soon
    wait_for(
        lambda: api.responses.retrieve(queued.id).status == "incomplete",
        timeout=60,
        what="the next response ran",
    )


def test_a_delete_before_the_job_could_end_is_a_409_and_changes_nothing(stack: Stack) -> None:
    edge = stack.edge({**LIFTED_LIMITS, "EDGE_RESPONSES_WAIT_SECONDS": "0.5"})
    paused = stack.worker("slow")
    api = client(edge)
    created = api.responses.create(model="slow", input=QUESTION, background=True)
    wait_for(
        lambda: api.responses.retrieve(created.id).status == "in_progress",
        what="the response running",
    )
    paused.signal(signal.SIGSTOP)  # its model cannot take the cancel in
    try:
        with pytest.raises(openai.ConflictError) as refused:
            api.responses.delete(created.id)
        assert refused.value.code == "job_running"
        assert api.responses.retrieve(created.id).status == "in_progress"  # still there
    finally:
        paused.signal(signal.SIGCONT)
    wait_for(
        lambda: api.responses.retrieve(created.id).status == "cancelled",
        what="the cancel taken in",
    )
    api.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        api.responses.retrieve(created.id)
