"""The AI SDK's own client (npm `ai`, current major, unmodified) against a real edge, Redis
and a worker of the offline chat model (`chat-long`: the shipped model, never stopping
before `max_tokens`, so an answer runs long enough to be aborted and resumed):
`DefaultChatTransport` sends, aborts, resumes; and the message it builds from our chunks."""

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.uichat_chunks import DONE, Translation, frame
from tests.support.client import get_job
from tests.support.stack import Edge, Stack
from tests.unit.test_uichat_chunks import (
    JOB,
    QUEUED,
    RESET,
    RESTARTED,
    STARTED,
    delta,
    end,
    log,
    sse,
)

pytestmark = [pytest.mark.integration, pytest.mark.models]

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("ai_sdk") / "transport.mjs"


def run_client(edge: Edge, scenario: str, model: str, max_tokens: int) -> dict[str, Any]:
    """Runs the Node client for one scenario (with a deadline) and returns what it printed."""
    env = {
        **os.environ,
        "WEB_DIR": str(REPOSITORY / "web"),
        "EDGE_URL": edge.url,
        "API_KEY": "alice-key",
        "MODEL": model,
        "MAX_TOKENS": str(max_tokens),
        "CHAT_ID": f"chat-{uuid.uuid4().hex[:12]}",
    }
    done = subprocess.run(
        ["node", str(SCRIPT), scenario], env=env, capture_output=True, text=True, timeout=90
    )
    assert done.stdout.strip(), f"no output; stderr:\n{done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, (result, done.stderr)
    return result


@pytest.fixture(scope="module")
def edge(redis_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    stack = Stack(redis_server_url, tmp_path_factory.mktemp("ai-sdk"))
    try:
        found = stack.edge()
        stack.worker("chat-long", env={"WORKER_CONCURRENCY": "2"})
        yield found
    finally:
        stack.close()


def test_send_messages_streams_a_whole_answer(edge: Edge) -> None:
    result = run_client(edge, "send", "chat-long", 30)
    answer = result["answer"]
    [message_id] = answer["ids"]
    job = get_job(edge, message_id)  # the message's id is the job's
    assert job["status"] == "succeeded"
    assert answer["role"] == "assistant"
    assert answer["text"] and answer["text"] == job["output"]["text"]
    types = answer["types"]
    assert types[0] == "start" and types[1] == "text-start" and types[-1] == "finish"
    assert set(types) == {"start", "text-start", "text-delta", "text-end", "finish"}
    assert result["reconnect_after_end_is_null"] is True


def test_an_aborted_answer_resumes_as_one_whole_message_with_the_same_id(edge: Edge) -> None:
    result = run_client(edge, "resume", "chat-long", 300)
    assert result["abortError"] == "AbortError"
    answer = result["answer"]
    assert answer["ids"] == [result["messageId"]]  # every snapshot is the one message
    job = get_job(edge, result["messageId"])
    assert job["status"] == "succeeded"  # the disconnect did not cancel it
    assert answer["text"] == job["output"]["text"]
    assert answer["text"].startswith(result["partial"]) and len(answer["text"]) > len(
        result["partial"]
    )
    assert answer["parts"] == 1 and answer["types"].count("start") == 1
    assert result["reconnect_after_end_is_null"] is True


def parse_with_the_ai_sdk(stream: str) -> dict[str, Any]:
    """The message the AI SDK's client builds from a UI message stream's bytes."""
    done = subprocess.run(
        ["node", str(SCRIPT.with_name("parse.mjs"))],
        input=stream,
        env={**os.environ, "WEB_DIR": str(REPOSITORY / "web")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_client_drops_a_failed_attempt_at_a_job_reset() -> None:
    events = log(
        QUEUED,
        STARTED,
        delta("the old "),
        delta("attempt"),
        RESET,
        RESTARTED,
        delta("the new answer"),
        end("succeeded", output={"text": "the new answer"}),
    )
    result = parse_with_the_ai_sdk(sse(events))
    assert "thrown" not in result and not result["errors"], result
    message = result["message"]
    assert message["id"] == JOB and message["role"] == "assistant"
    assert message["parts"] == [{"type": "text", "text": "the new answer", "state": "done"}]


def test_the_client_reads_cancelled_failed_and_progress() -> None:
    cancelled = parse_with_the_ai_sdk(sse(log(STARTED, delta("half"), end("cancelled"))))
    assert cancelled["types"][-1] == "abort" and not cancelled["errors"]
    assert cancelled["message"]["parts"][0]["text"] == "half"
    error = {"code": "timeout", "message": "too long"}
    failed = parse_with_the_ai_sdk(sse(log(STARTED, delta("x"), end("failed", error=error))))
    assert failed["errors"] == ["timeout: too long"]
    progress = {"type": "progress", "done": 1, "total": 3}
    read = parse_with_the_ai_sdk(sse(log(progress, end("succeeded"))))
    assert read["message"]["parts"] == [
        {"type": "data-progress", "id": "progress", "data": {"done": 1, "total": 3}}
    ]


def test_an_older_clients_reset_ends_its_stream_with_an_error() -> None:
    events = log(STARTED, delta("the old "), RESET, RESTARTED, delta("new"), end("succeeded"))
    translation = Translation(JOB, reset="error")
    frames = [frame(translation.start())]
    for event in events:
        frames += [frame(chunk, event["seq"]) for chunk in translation.chunks(event)]
        if translation.ended:
            break
    read = parse_with_the_ai_sdk("".join(frames) + DONE)
    assert read["types"][-1] == "error" and read["errors"][0].startswith("job_reset: ")
