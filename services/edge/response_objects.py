"""OpenAI's Response object, built from a job: its record (`GET /v1/responses/{id}`) or its
`job-end` (the stream's last event). One function builds both, so a retrieve and a stream's
`response.completed` agree.

    job status   finish_reason   Response status
    queued                       queued
    running                      in_progress
    succeeded    "length"        incomplete (incomplete_details.reason: max_output_tokens)
    succeeded    other           completed
    failed                       failed (error: the job's {code, message})
    cancelled                    cancelled

The answer is one message, `output[0]`, whose one `output_text` part holds the job's output
text; it is there once the job has ended (a queued or running response has `output: []`:
its text so far is in its event stream).
"""

from dataclasses import dataclass, field
from typing import Any

from contracts.jobs import JobStatus
from contracts.responses import RESPONSE_ID_PREFIX, ResponseSettings

_STATUS = {
    JobStatus.queued: "queued",
    JobStatus.running: "in_progress",
    JobStatus.succeeded: "completed",
    JobStatus.failed: "failed",
    JobStatus.cancelled: "cancelled",
}


def response_id(job_id: str) -> str:
    return f"{RESPONSE_ID_PREFIX}{job_id}"


def message_id(job_id: str, attempt: int) -> str:
    """The answer's message: one per attempt, so an attempt a `job-reset` dropped and the
    one that followed are told apart (see `edge.response_events`)."""
    return f"msg_{job_id}_{attempt}"


@dataclass(frozen=True, slots=True)
class Head:
    """What every Response object of one job shares."""

    job_id: str
    model: str
    created_at: float
    settings: ResponseSettings = field(default_factory=ResponseSettings)


def response_status(status: JobStatus, output: Any) -> str:
    if status is JobStatus.succeeded and _finish_reason(output) == "length":
        return "incomplete"
    return _STATUS[status]


def _finish_reason(output: Any) -> str | None:
    return output.get("finish_reason") if isinstance(output, dict) else None


def output_text(output: Any) -> str:
    text = output.get("text") if isinstance(output, dict) else None
    return text if isinstance(text, str) else ""


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message(item_id: str, status: str, text: str | None) -> dict[str, Any]:
    """An assistant message item; `text` None: no content part yet."""
    content = [] if text is None else [text_part(text)]
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def usage_of(usage: Any) -> dict[str, Any] | None:
    """A job's usage in the Responses API's words."""
    if not isinstance(usage, dict):
        return None
    return {
        "input_tokens": int(usage.get("prompt_tokens", 0)),
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": int(usage.get("completion_tokens", 0)),
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": int(usage.get("total_tokens", 0)),
    }


def response_object(
    head: Head,
    status: JobStatus,
    *,
    attempt: int = 1,
    output: Any = None,
    usage: Any = None,
    error: Any = None,
    finished_at: float | None = None,
) -> dict[str, Any]:
    """The Response of a job in `status`; `output`, `usage`, `error` as its end holds them."""
    shown = response_status(status, output)
    items = []
    if status in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled):
        text = output_text(output)
        if status is JobStatus.succeeded or text:
            item_status = "completed" if shown == "completed" else "incomplete"
            items.append(message(message_id(head.job_id, max(attempt, 1)), item_status, text))
    failure = None
    if status is JobStatus.failed:
        error = error if isinstance(error, dict) else {}
        failure = {
            "code": str(error.get("code", "server_error")),
            "message": str(error.get("message", "the response failed")),
        }
    settings = head.settings
    return {
        "id": response_id(head.job_id),
        "object": "response",
        "created_at": int(head.created_at),
        "completed_at": int(finished_at) if finished_at and shown == "completed" else None,
        "status": shown,
        "background": settings.background,
        "error": failure,
        "incomplete_details": {"reason": "max_output_tokens"} if shown == "incomplete" else None,
        "instructions": settings.instructions,
        "max_output_tokens": settings.max_output_tokens,
        "metadata": settings.metadata,
        "model": head.model,
        "output": items,
        "parallel_tool_calls": False,
        "temperature": settings.temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": "none",
        "tools": [],
        "top_p": settings.top_p,
        "truncation": "disabled",
        "usage": usage_of(usage),
    }
