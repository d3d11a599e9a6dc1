"""`/v1/ui/chat`: the AI SDK's UI message stream over real processes: the chunks, resume on
another edge, stop, a second message replacing a running answer, other users, bad input."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.client import get_job
from tests.support.stack import LIFTED_LIMITS, Edge, Stack, auth

pytestmark = pytest.mark.integration

Chunk = tuple[int | None, dict[str, Any]]
KEYS = {  # the keys each chunk type may have: released clients reject any other
    "start": {"type", "messageId"},
    "text-start": {"type", "id"},
    "text-delta": {"type", "id", "delta"},
    "text-end": {"type", "id"},
    "finish": {"type", "finishReason"},
    "abort": {"type", "reason"},
    "error": {"type", "errorText"},
}


@dataclass
class Edges:
    one: Edge
    two: Edge


@pytest.fixture(scope="module")
def edges(redis_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edges]:
    stack = Stack(redis_server_url, tmp_path_factory.mktemp("ui-chat"), edge_env=LIFTED_LIMITS)
    try:
        found = Edges(stack.edge(), stack.edge())
        workers = [stack.worker(pool, wait=False) for pool in ("sim", "slow")]
        for worker in workers:
            stack.wait_worker(worker)
        yield found
    finally:
        stack.close()


def chat_body(chat_id: str, text: str = "hello", model: str = "sim", **extra: Any) -> Any:
    message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}
    return {
        "id": chat_id,
        "messages": [message],
        "trigger": "submit-message",
        "model": model,
        **extra,
    }


def chunks_of(response: httpx.Response) -> Iterator[Chunk]:
    """(seq of the `id:` line or None, chunk) of a UI message stream, until `[DONE]`."""
    assert response.status_code == 200, response.read()
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.headers["content-type"].startswith("text/event-stream")
    seq = None
    for line in response.iter_lines():
        if line.startswith("id: "):
            seq = int(line[4:])
        elif line == "data: [DONE]":
            return
        elif line.startswith("data: "):
            chunk = json.loads(line[6:])
            assert set(chunk) <= KEYS.get(chunk["type"], {"type", "id", "data"}), chunk
            yield seq, chunk
            seq = None
    raise AssertionError("the stream ended without [DONE]")


def open_chat(edge: Edge, body: Any, user: str = "alice") -> Any:
    return httpx.stream("POST", f"{edge.url}/v1/ui/chat", json=body, headers=auth(user), timeout=30)


def until_delta(chunks: Iterator[Chunk]) -> str:
    """Reads up to the first text-delta; the message id of the `start` before it."""
    message_id = ""
    for _, chunk in chunks:
        if chunk["type"] == "start":
            message_id = chunk["messageId"]
        if chunk["type"] == "text-delta":
            return message_id
    raise AssertionError("no text-delta")


def text_of(chunks: Iterator[Chunk]) -> tuple[str, list[str]]:
    seen = list(chunks)
    text = "".join(chunk["delta"] for _, chunk in seen if chunk["type"] == "text-delta")
    return text, [chunk["type"] for _, chunk in seen]


def test_a_chat_streams_its_answer_with_the_seq_in_the_id_lines(edges: Edges) -> None:
    with open_chat(edges.one, chat_body("seq-chat")) as response:
        job_id = response.headers["x-relayline-job-id"]
        seen = list(chunks_of(response))
    assert seen[0] == (None, {"type": "start", "messageId": job_id})
    seqs = [seq for seq, _ in seen[1:]]
    assert all(seq is not None for seq in seqs) and seqs == sorted(seqs)  # type: ignore[type-var]
    job = get_job(edges.one, job_id)
    assert seqs[-1] == job["last_seq"]
    text = "".join(chunk["delta"] for _, chunk in seen if chunk["type"] == "text-delta")
    assert text == job["output"]["text"]
    assert seen[-1][1]["type"] == "finish"


def test_one_message_form_is_answered_on_its_own(edges: Edges) -> None:
    message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}
    body = {"id": "one-message", "message": message, "model": "sim"}
    with open_chat(edges.one, body) as response:
        _, types = text_of(chunks_of(response))
    assert types[-1] == "finish"


def test_resume_replays_the_running_answer_from_its_start_on_another_edge(edges: Edges) -> None:
    body = chat_body("resumed", model="slow", params={"max_tokens": 40})
    with open_chat(edges.one, body) as response:
        message_id = until_delta(chunks_of(response))
    # the client went away: the answer goes on, and another edge replays it whole
    url = f"{edges.two.url}/v1/ui/chat/resumed/stream"
    with httpx.stream("GET", url, headers=auth(), timeout=30) as response:
        seen = list(chunks_of(response))
    assert seen[0][1] == {"type": "start", "messageId": message_id}
    text = "".join(chunk["delta"] for _, chunk in seen if chunk["type"] == "text-delta")
    job = get_job(edges.one, message_id)
    assert job["status"] == "succeeded" and text == job["output"]["text"]
    assert httpx.get(url, headers=auth()).status_code == 204  # nothing streams now


def test_stop_cancels_the_answer_and_its_stream_ends_with_abort(edges: Edges) -> None:
    body = chat_body("stopped", model="slow", params={"max_tokens": 400})
    with open_chat(edges.one, body) as response:
        chunks = chunks_of(response)
        message_id = until_delta(chunks)
        stop = httpx.post(f"{edges.two.url}/v1/ui/chat/stopped/stop", headers=auth())
        assert stop.status_code == 200, stop.text
        stopped = stop.json()
        assert stopped["id"] == "stopped" and stopped["job_id"] == message_id
        assert stopped["status"] in ("running", "cancelled")  # running: its worker stops it
        _, types = text_of(chunks)
    assert types[-2:] == ["text-end", "abort"]
    assert get_job(edges.one, message_id)["status"] == "cancelled"
    again = httpx.post(f"{edges.one.url}/v1/ui/chat/stopped/stop", headers=auth())
    assert again.json()["status"] == "cancelled"
    url = f"{edges.one.url}/v1/ui/chat/stopped/stream"
    assert httpx.get(url, headers=auth()).status_code == 204


def test_a_second_message_cancels_and_replaces_the_running_answer(edges: Edges) -> None:
    first = chat_body("replaced", model="slow", params={"max_tokens": 400})
    with open_chat(edges.one, first) as response:
        chunks = chunks_of(response)
        first_id = until_delta(chunks)
        second = chat_body("replaced", "again", model="sim")
        with open_chat(edges.two, second) as replacing:
            second_id = replacing.headers["x-relayline-job-id"]
            _, second_types = text_of(chunks_of(replacing))
        _, first_types = text_of(chunks)
    assert first_types[-1] == "abort" and second_types[-1] == "finish"
    assert get_job(edges.one, first_id)["status"] == "cancelled"
    assert get_job(edges.one, second_id)["status"] == "succeeded"


def test_another_users_chat_is_neither_seen_nor_stopped_nor_replaced(edges: Edges) -> None:
    body = chat_body("shared-name", model="slow", params={"max_tokens": 60})
    with open_chat(edges.one, body, user="alice") as response:
        chunks = chunks_of(response)
        alice_job = until_delta(chunks)
        url = f"{edges.two.url}/v1/ui/chat/shared-name"
        assert httpx.get(f"{url}/stream", headers=auth("bob")).status_code == 204
        stop = httpx.post(f"{url}/stop", headers=auth("bob"))
        assert stop.status_code == 404 and stop.json()["error"]["code"] == "not_found"
        with open_chat(edges.two, chat_body("shared-name"), user="bob") as bobs:
            assert text_of(chunks_of(bobs))[1][-1] == "finish"  # bob's own chat of that name
        _, types = text_of(chunks)
    assert types[-1] == "finish"
    assert get_job(edges.one, alice_job)["status"] == "succeeded"


def test_an_unknown_chat_has_nothing_to_resume_or_stop(edges: Edges) -> None:
    url = f"{edges.one.url}/v1/ui/chat/never-used"
    assert httpx.get(f"{url}/stream", headers=auth()).status_code == 204
    assert httpx.post(f"{url}/stop", headers=auth()).status_code == 404


def test_ui_streams_count_against_the_users_open_streams(stack: Stack) -> None:
    edge = stack.edge(env={"EDGE_MAX_STREAMS_PER_USER": "1"})
    stack.worker("slow")
    body = chat_body("counted", model="slow", params={"max_tokens": 400})
    with open_chat(edge, body) as response:
        chunks = chunks_of(response)  # held: a dropped reader closes the connection
        until_delta(chunks)
        second = httpx.post(f"{edge.url}/v1/ui/chat", json=chat_body("other"), headers=auth())
        resume = httpx.get(f"{edge.url}/v1/ui/chat/counted/stream", headers=auth())
        for refused in (second, resume):
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == "too_many_connections"
        stop = httpx.post(f"{edge.url}/v1/ui/chat/counted/stop", headers=auth())
        assert stop.status_code == 200  # not a stream
