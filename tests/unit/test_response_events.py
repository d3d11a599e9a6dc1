"""The event log as Responses stream events: numbered from the log alone, so a resume from
any `sequence_number` is the rest of one translation; and the official `openai` client's
stream state takes every event, a `job-reset` included."""

from typing import Any

import pytest
from openai._models import construct_type
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent

from contracts.responses import ResponseSettings
from edge.response_events import ResponseEvents
from edge.response_objects import Head

JOB = "0" * 32
HEAD = Head(JOB, "chat", 1700000000.5, ResponseSettings(background=True))


def log(*events: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"job_id": JOB, "seq": seq, "ts": 1700000001.0, **e} for seq, e in enumerate(events, 1)]


def delta(text: str) -> dict[str, Any]:
    return {"type": "text-delta", "delta": text}


def end(status: str, text: str | None = None, **more: Any) -> dict[str, Any]:
    output = None if text is None else {"text": text, "finish_reason": "stop"}
    return {"type": "job-end", "status": status, "output": output, **more}


START = {"type": "job-start", "attempt": 1, "worker": "w1"}
RESET = {"type": "job-reset", "attempt": 2, "reason": "worker lost"}
START_2 = {"type": "job-start", "attempt": 2, "worker": "w2"}
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}

SUCCEEDED = log(
    {"type": "job-queued"}, START, delta("Hel"), delta("lo"), end("succeeded", "Hello", usage=USAGE)
)
RESET_AFTER_TEXT = log(
    {"type": "job-queued"},
    START,
    delta("Dro"),
    RESET,
    START_2,
    delta("Fine"),
    end("succeeded", "Fine"),
)


def translate(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    translator = ResponseEvents(HEAD)
    return [item for event in events for item in translator.translate(event)]


def client_sees(events: list[dict[str, Any]]) -> ResponseStreamState[Any]:
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    for event in events:
        state.handle_event(construct_type(type_=ResponseStreamEvent, value=event))  # type: ignore[arg-type]
    return state


def test_a_job_as_response_events_numbered_from_zero() -> None:
    events = translate(SUCCEEDED)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["output"][0]["content"][0]["text"] == "Hello"
    assert final["usage"]["output_tokens"] == 2
    assert final["id"] == f"resp_{JOB}" and final["created_at"] == 1700000000
    assert client_sees(events)._completed_response.output_text == "Hello"  # type: ignore[union-attr]


@pytest.mark.parametrize("events", [SUCCEEDED, RESET_AFTER_TEXT])
def test_the_numbering_is_a_function_of_the_log(events: list[dict[str, Any]]) -> None:
    whole = translate(events)
    assert translate(events) == whole  # another edge, the same events and numbers
    for k in range(len(whole)):
        rest = [e for e in translate(events) if e["sequence_number"] > k]
        assert rest == whole[k + 1 :]


def test_a_reset_after_text_closes_the_dropped_message_and_opens_a_new_one() -> None:
    events = translate(RESET_AFTER_TEXT)
    dropped = next(e for e in events if e["type"] == "response.output_item.done")
    assert dropped["output_index"] == 0 and dropped["item"]["status"] == "incomplete"
    assert dropped["item"]["content"][0]["text"] == "Dro"
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [e["output_index"] for e in added] == [0, 1]
    assert added[0]["item"]["id"] != added[1]["item"]["id"]
    texts = [e for e in events if e["type"] == "response.output_text.done"]
    assert [e["text"] for e in texts] == ["Fine"]  # only the answer is ever "done"
    final = events[-1]["response"]
    assert [item["content"][0]["text"] for item in final["output"]] == ["Fine"]
    completed = client_sees(events)._completed_response
    assert completed is not None and completed.output_text == "Fine"


def test_a_reset_before_any_text_shows_nothing() -> None:
    quiet = log({"type": "job-queued"}, START, RESET, START_2, delta("A"), end("succeeded", "A"))
    kinds = [e["type"] for e in translate(quiet)]
    assert kinds.count("response.in_progress") == 2
    assert kinds.count("response.output_item.added") == 1


@pytest.mark.parametrize(
    ("status", "kind", "error"),
    [
        ("failed", "response.failed", {"code": "engine_error", "message": "boom"}),
        ("cancelled", "response.cancelled", None),
    ],
)
def test_an_end_that_is_no_success_closes_the_open_message(
    status: str, kind: str, error: dict[str, str] | None
) -> None:
    events = translate(log({"type": "job-queued"}, START, delta("Par"), end(status, error=error)))
    assert [e["type"] for e in events[-3:]] == [
        "response.content_part.done",
        "response.output_item.done",
        kind,
    ]
    assert events[-2]["item"]["status"] == "incomplete"
    assert events[-1]["response"]["status"] == status
    assert events[-1]["response"]["error"] == error
    client_sees(events)  # taken without complaint
