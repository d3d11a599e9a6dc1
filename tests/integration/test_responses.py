"""OpenAI's Responses API in background mode, with the official `openai` client, unmodified,
against real edges, Redis and worker processes: poll to completed, a streamed response
resumed on a second edge from a `sequence_number`, cancel, delete."""

import asyncio
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import Response

from tests.support.client import assert_complete, get_job, ws_follow
from tests.support.stack import LIFTED_LIMITS, Edge, Stack, auth
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

QUESTION = "Tell me about the for statement."


def client(edge: Edge, key: str = "alice-key") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{edge.url}/v1", api_key=key, max_retries=0)


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


def openai_shaped(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["code"] == code, error
    assert error["message"]
    return error


BAD_BODIES: list[tuple[dict[str, Any] | bytes, int, str, str | None]] = [
    ({"input": ""}, 400, "invalid_request", None),
    ({"input": []}, 400, "invalid_request", None),
    ({"input": [{"role": "user", "content": "  "}]}, 400, "invalid_request", None),
    ({"input": "x" * (600 << 10)}, 413, "input_too_large", None),
    ({"input": "x" * (2 << 20)}, 413, "payload_too_large", None),
    ({"input": "\u00e9\u6f22" * 10, "max_output_tokens": 0}, 400, "invalid_request", None),
    ({"max_output_tokens": -1}, 400, "invalid_request", "max_output_tokens"),
    ({"max_output_tokens": 2**63}, 400, "invalid_request", "max_output_tokens"),
    ({"max_output_tokens": 2**64}, 400, "invalid_request", "max_output_tokens"),
    ({"max_output_tokens": 5.0}, 400, "invalid_request", "max_output_tokens"),
    ({"max_output_tokens": "5"}, 400, "invalid_request", "max_output_tokens"),
    (b'{"model":"sim","input":"hi","max_output_tokens":NaN}', 400, "invalid_request", None),
    (b'{"model":"sim","input":"hi","temperature":NaN}', 400, "invalid_request", "temperature"),
    ({"temperature": 2.5}, 400, "invalid_request", "temperature"),
    ({"top_p": 0}, 400, "invalid_request", "top_p"),
    ({"background": "yes"}, 400, "invalid_request", "background"),
    (b'{"model":"sim","input":"\\ud800"}', 400, "invalid_request", None),
    ({"metadata": {"k" * 65: "v"}}, 400, "invalid_request", None),
    ({"tools": [{"type": "web_search"}]}, 400, "unsupported_parameter", "tools"),
    ({"previous_response_id": "resp_1"}, 400, "unsupported_parameter", "previous_response_id"),
    ({"store": False}, 400, "unsupported_parameter", "store"),
    ({"text": {"format": {"type": "json_object"}}}, 400, "unsupported_parameter", "text"),
    ({"frobnicate": 1}, 400, "unsupported_parameter", "frobnicate"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
        400,
        "unsupported_parameter",
        "input",
    ),
    ({"model": "embed"}, 400, "invalid_request", None),
    ({"model": "nope"}, 404, "model_not_found", None),
    (b"{", 400, "invalid_json", None),
]


def test_bad_requests_get_a_clear_4xx_in_openai_shape(stack: Stack) -> None:
    edge = stack.edge(LIFTED_LIMITS)
    url = f"{edge.url}/v1/responses"
    for body, status, code, param in BAD_BODIES:
        if isinstance(body, bytes):
            headers = {**auth(), "Content-Type": "application/json"}
            answer = httpx.post(url, content=body, headers=headers, timeout=10)
        else:
            payload = {"model": "sim", "input": "hi", **body}
            answer = httpx.post(url, json=payload, headers=auth(), timeout=10)
        error = openai_shaped(answer, status, code)
        if param is not None:
            assert error["param"] == param, (body, error)
    # nothing was queued by any of them
    assert stack.redis().zcard(stack.keys.user_jobs("alice")) == 0
    # the openai client names the field it refused
    with pytest.raises(openai.BadRequestError) as refused:
        client(edge).responses.create(
            model="sim", input="hi", tools=[{"type": "web_search"}], background=True
        )
    assert refused.value.code == "unsupported_parameter" and refused.value.param == "tools"


def test_ids_and_positions_that_name_nothing_are_refused(stack: Stack) -> None:
    edge = stack.edge(LIFTED_LIMITS)
    stack.worker("sim")
    api = client(edge)
    alices = api.responses.create(model="sim", input="hi", max_output_tokens=3)
    url = f"{edge.url}/v1/responses"
    for other in (
        f"{alices.id}x",
        alices.id.removeprefix("resp_"),
        "resp_" + "g" * 32,
        "resp_",
        "resp_" + "0" * 32,
        "resp_%F0%9F%98%80",
        "resp_" + "a" * 5000,
    ):
        openai_shaped(httpx.get(f"{url}/{other}", headers=auth(), timeout=10), 404, "not_found")
    embeddings = httpx.post(
        f"{edge.url}/v1/jobs",
        json={"model": "embed", "input": {"texts": ["a"]}},
        headers=auth(),
        timeout=10,
    )
    assert embeddings.status_code == 202  # a job of alice's, but no response
    answer = httpx.get(f"{url}/resp_{embeddings.json()['id']}", headers=auth(), timeout=10)
    openai_shaped(answer, 404, "not_found")
    for method, path in (
        ("GET", ""),
        ("GET", "?stream=true"),
        ("POST", "/cancel"),
        ("DELETE", ""),
    ):
        answer = httpx.request(method, f"{url}/{alices.id}{path}", headers=auth("bob"))
        openai_shaped(answer, 404, "not_found")
    for position in ("-1", str(2**63), str(2**64), "1.5", "abc", "NaN", ""):
        answer = httpx.get(
            f"{url}/{alices.id}?stream=true&starting_after={position}", headers=auth()
        )
        openai_shaped(answer, 400, "invalid_request")
    whole = list(api.responses.retrieve(alices.id, stream=True))
    last = whole[-1].sequence_number
    past = httpx.get(f"{url}/{alices.id}?stream=true&starting_after={last + 1}", headers=auth())
    openai_shaped(past, 400, "seq_out_of_range")
    at_end = list(api.responses.retrieve(alices.id, stream=True, starting_after=last))
    assert at_end == []
    # bob's tries changed nothing of alice's
    assert api.responses.retrieve(alices.id).output_text == alices.output_text


def test_a_response_stream_holds_one_of_its_users_stream_slots(stack: Stack) -> None:
    edge = stack.edge({"EDGE_MAX_STREAMS_PER_USER": "1"})
    api = client(edge)
    queued = api.responses.create(model="sim", input="hi", background=True)  # no worker: waits
    url = f"{edge.url}/v1/responses/{queued.id}?stream=true"
    with httpx.stream("GET", url, headers=auth(), timeout=10) as first:
        assert first.status_code == 200
        second = httpx.get(url, headers=auth(), timeout=10)
        openai_shaped(second, 429, "too_many_connections")
        assert httpx.get(url.replace("stream=true", "stream=false"), headers=auth()).is_success
    assert api.responses.cancel(queued.id).status == "cancelled"
