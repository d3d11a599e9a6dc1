"""A chat job's event log as the AI SDK's UI message stream (protocol `v1`).

One answer is one UI message whose id is the job's id, so a resume on any edge, which
replays the log from its start, rebuilds the same message:

    (stream opens)        start {messageId: <job id>}
    text-delta            text-start {id: "text-<attempt>"} (first delta only), text-delta
    progress              data-progress {id: "progress", data: {done, total}}
    job-reset             reset-step: the client drops the parts of the failed attempt
                          (`reset="error"`, for clients before AI SDK 7: error
                          {errorText: "job_reset: ..."}, and the stream ends)
    job-end succeeded     text-end, finish {finishReason}
    job-end failed        text-end, error {errorText: "<code>: <message>"}
    job-end cancelled     text-end, abort {reason: "cancelled"}
    (then)                [DONE]

The log's seq goes in each SSE `id:` line, never in the JSON: released clients reject
unknown keys. `job-queued` and `job-start` have no chunk.
"""

import json
from dataclasses import dataclass
from typing import Any, Literal

from contracts.errors import ErrorCode

Chunk = dict[str, Any]

DONE = "data: [DONE]\n\n"
KEEPALIVE = ": keepalive\n\n"
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "X-Vercel-AI-UI-Message-Stream": "v1",
}
ResetMode = Literal["step", "error"]
"""How a `job-reset` is sent: `step` (`reset-step`, AI SDK 7), or `error` (older clients,
which refuse chunk types they do not know: the stream ends with an error; a resume then
starts at the new attempt)."""
RESET_MESSAGE = (
    "the answer restarted after a worker failure; resume the chat to follow the new attempt"
)
_FINISH_REASONS = {"stop": "stop", "length": "length", "content_filter": "content-filter"}


def frame(chunk: Chunk, seq: int | None = None) -> str:
    """One SSE event: the chunk as `data`, the log's seq (if any) as `id`."""
    data = json.dumps(chunk, separators=(",", ":"), ensure_ascii=False)
    return f"id: {seq}\ndata: {data}\n\n" if seq else f"data: {data}\n\n"


def error_chunk(code: str, message: str) -> Chunk:
    return {"type": "error", "errorText": f"{code}: {message}"}


@dataclass
class Translation:
    """The chunks of one job's events, in log order; `ended` once the stream must end (the
    job's end, or a reset sent as an error)."""

    job_id: str
    attempt: int = 1
    reset: ResetMode = "step"
    open_text: str | None = None
    ended: bool = False

    def start(self) -> Chunk:
        return {"type": "start", "messageId": self.job_id}

    def chunks(self, event: dict[str, Any]) -> list[Chunk]:
        kind = event.get("type")
        if kind == "text-delta":
            return self._text(str(event.get("delta", "")))
        if kind == "progress":
            data = {"done": event.get("done", 0), "total": event.get("total", 0)}
            return [{"type": "data-progress", "id": "progress", "data": data}]
        if kind == "job-start":
            self.attempt = int(event.get("attempt", self.attempt))
        elif kind == "job-reset":
            self.attempt = int(event.get("attempt", self.attempt + 1))
            self.open_text = None
            if self.reset == "error":
                self.ended = True  # the stream ends here
                return [error_chunk("job_reset", RESET_MESSAGE)]
            return [{"type": "reset-step"}]
        elif kind == "job-end":
            self.ended = True
            return [*self._close_text(), self._end(event)]
        return []

    def _text(self, delta: str) -> list[Chunk]:
        if not delta:
            return []
        head: list[Chunk] = []
        if self.open_text is None:
            self.open_text = f"text-{self.attempt}"
            head.append({"type": "text-start", "id": self.open_text})
        return [*head, {"type": "text-delta", "id": self.open_text, "delta": delta}]

    def _close_text(self) -> list[Chunk]:
        if self.open_text is None:
            return []
        text_id, self.open_text = self.open_text, None
        return [{"type": "text-end", "id": text_id}]

    def _end(self, event: dict[str, Any]) -> Chunk:
        status = event.get("status")
        if status == "succeeded":
            reason = (event.get("output") or {}).get("finish_reason", "stop")
            return {"type": "finish", "finishReason": _FINISH_REASONS.get(reason, "other")}
        if status == "cancelled":
            return {"type": "abort", "reason": "cancelled"}
        error = event.get("error") or {}
        code = error.get("code", ErrorCode.internal_error)
        return error_chunk(code, error.get("message", "the job failed"))
