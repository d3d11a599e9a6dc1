"""A chat job's events as UI message stream chunks (`edge.uichat_chunks`)."""

from pathlib import Path
from typing import Any

from edge.uichat_chunks import DONE, Translation, frame

JOB = "0001" + "ab" * 14


def log(*events: dict[str, Any]) -> list[dict[str, Any]]:
    """Events with their seq (1, 2, ...) and job id, as the event log holds them."""
    return [{"job_id": JOB, "seq": seq, "ts": 1.0, **e} for seq, e in enumerate(events, 1)]


def delta(text: str) -> dict[str, Any]:
    return {"type": "text-delta", "delta": text}


def end(status: str, **fields: Any) -> dict[str, Any]:
    return {"type": "job-end", "status": status, **fields}


QUEUED = {"type": "job-queued"}
STARTED = {"type": "job-start", "attempt": 1, "worker": "w"}
RESET = {"type": "job-reset", "attempt": 2, "reason": "worker lost"}
RESTARTED = {"type": "job-start", "attempt": 2, "worker": "v"}


def chunks(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    translation = Translation(JOB)
    return [translation.start()] + [c for e in events for c in translation.chunks(e)]


def sse(events: list[dict[str, Any]]) -> str:
    """The whole stream as the edge sends it."""
    translation = Translation(JOB)
    frames = [frame(translation.start())]
    frames += [frame(c, e["seq"]) for e in events for c in translation.chunks(e)]
    return "".join(frames) + DONE


def test_an_answer_is_one_message_whose_id_is_the_job() -> None:
    output = {"text": "Hi there", "finish_reason": "length"}
    assert chunks(
        log(
            QUEUED,
            STARTED,
            delta("Hi"),
            delta(""),
            delta(" there"),
            end("succeeded", output=output),
        )
    ) == [
        {"type": "start", "messageId": JOB},
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "Hi"},
        {"type": "text-delta", "id": "text-1", "delta": " there"},
        {"type": "text-end", "id": "text-1"},
        {"type": "finish", "finishReason": "length"},
    ]


def test_the_seq_is_in_the_id_line_only() -> None:
    text = sse(log(QUEUED, STARTED, delta("Hi"), end("succeeded")))
    assert text.startswith(f'data: {{"type":"start","messageId":"{JOB}"}}\n\n')
    assert 'id: 3\ndata: {"type":"text-start","id":"text-1"}\n\n' in text
    assert '"seq"' not in text and text.endswith("data: [DONE]\n\n")


def test_a_reset_drops_the_old_attempt_with_reset_step() -> None:
    got = chunks(
        log(QUEUED, STARTED, delta("old"), RESET, RESTARTED, delta("new"), end("succeeded"))
    )
    assert got[3:] == [
        {"type": "reset-step"},
        {"type": "text-start", "id": "text-2"},
        {"type": "text-delta", "id": "text-2", "delta": "new"},
        {"type": "text-end", "id": "text-2"},
        {"type": "finish", "finishReason": "stop"},
    ]


def test_failed_cancelled_and_progress() -> None:
    error = {"code": "timeout", "message": "the job ran too long"}
    assert chunks(log(STARTED, delta("a"), end("failed", error=error)))[-2:] == [
        {"type": "text-end", "id": "text-1"},
        {"type": "error", "errorText": "timeout: the job ran too long"},
    ]
    assert chunks(log(STARTED, end("cancelled")))[-1] == {"type": "abort", "reason": "cancelled"}
    progress = {"type": "progress", "done": 2, "total": 5}
    assert chunks(log(progress))[-1] == {
        "type": "data-progress",
        "id": "progress",
        "data": {"done": 2, "total": 5},
    }


def test_the_docs_example_component_is_the_one_the_browser_test_runs() -> None:
    """docs/api.md's `useChat` example stays true: it is `tests/e2e/use_chat_page/Chat.tsx`
    (less its two comment lines), which the browser test builds and drives."""
    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "api.md").read_text()
    example = docs.split("```tsx\n", 1)[1].split("```\n", 1)[0]
    page = (root / "tests" / "e2e" / "use_chat_page" / "Chat.tsx").read_text()
    assert example == "".join(page.splitlines(keepends=True)[2:])


def test_for_older_clients_a_reset_is_an_error_that_ends_the_stream() -> None:
    translation = Translation(JOB, reset="error")
    for event in log(STARTED, delta("old")):
        translation.chunks(event)
    [chunk] = translation.chunks(log(STARTED, delta("old"), RESET)[-1])
    assert chunk["type"] == "error" and chunk["errorText"].startswith("job_reset: ")
    assert translation.ended
