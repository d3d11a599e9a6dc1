"""A job's event log as OpenAI's Responses stream events, numbered from it.

`ResponseEvents.translate` takes the log's events in seq order and gives the Response events
each one stands for; every event gets the next `sequence_number` (0, 1, 2 ...). The
translation is a pure function of the log (its state is built only from the events before),
so any edge that reads the log from its first event numbers every Response event the same
way, and a resume after `starting_after=k` is the translation with the first k + 1 events
left out.

    job-queued  response.created (status queued)
    job-start   response.in_progress
    text-delta  response.output_item.added, response.content_part.added (before an
                attempt's first text), response.output_text.delta
    progress    nothing
    job-reset   after text: response.content_part.done, response.output_item.done
                (the dropped attempt's message, status incomplete); else nothing
    job-end     the message's added events if there was no text, then
                response.output_text.done, response.content_part.done,
                response.output_item.done and response.completed / response.incomplete;
                failed or cancelled: the open message's done events (status incomplete),
                then response.failed / response.cancelled

A `job-reset` (a new attempt after a worker was lost) cannot take back text a client was
sent: the dropped attempt's message is closed as `incomplete`, and the new attempt's text
arrives in a new message at the next `output_index`. The final Response (the terminal
event's, and a retrieve's) holds only the answer, at `output[0]`.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from contracts.jobs import JobStatus
from edge.response_objects import (
    Head,
    message,
    message_id,
    output_text,
    response_object,
    text_part,
)

_TERMINAL_EVENT = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
    "cancelled": "response.cancelled",
}


@dataclass
class ResponseEvents:
    head: Head
    number: int = 0
    """The next event's `sequence_number`: how many events the log gave so far."""
    attempt: int = 0
    output_index: int = 0
    open_item: bool = False
    text: list[str] = field(default_factory=list)
    ended: bool = False

    def translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "job-queued":
            found = [self._lifecycle("response.created", JobStatus.queued)]
        elif kind == "job-start":
            self.attempt = int(event.get("attempt", self.attempt + 1))
            found = [self._lifecycle("response.in_progress", JobStatus.running)]
        elif kind == "text-delta":
            found = self._open()
            delta = str(event.get("delta", ""))
            self.text.append(delta)
            found.append({"type": "response.output_text.delta", **self._at(), "delta": delta})
        elif kind == "job-reset":
            found = self._close("incomplete") if self.open_item else []
            if found:
                self.output_index += 1
            self.text = []
        elif kind == "job-end":
            found = self._end(event)
        else:
            found = []
        return [self._numbered(item) for item in found]

    def _numbered(self, item: dict[str, Any]) -> dict[str, Any]:
        item["sequence_number"] = self.number
        self.number += 1
        return item

    def _lifecycle(self, kind: str, status: JobStatus) -> dict[str, Any]:
        return {"type": kind, "response": response_object(self.head, status)}

    def _item_id(self) -> str:
        return message_id(self.head.job_id, max(self.attempt, 1))

    def _at(self) -> dict[str, Any]:
        return {"item_id": self._item_id(), "output_index": self.output_index, "content_index": 0}

    def _open(self) -> list[dict[str, Any]]:
        if self.open_item:
            return []
        self.open_item = True
        return [
            {
                "type": "response.output_item.added",
                "output_index": self.output_index,
                "item": message(self._item_id(), "in_progress", None),
            },
            {"type": "response.content_part.added", **self._at(), "part": text_part("")},
        ]

    def _close(self, status: str, text: str | None = None) -> list[dict[str, Any]]:
        """The open message's done events; `text` given: its `output_text.done` first."""
        self.open_item = False
        text_so_far = "".join(self.text) if text is None else text
        done = [] if text is None else [{"type": "response.output_text.done", **self._at()}]
        if done:
            done[0].update(text=text, logprobs=[])
        return [
            *done,
            {"type": "response.content_part.done", **self._at(), "part": text_part(text_so_far)},
            {
                "type": "response.output_item.done",
                "output_index": self.output_index,
                "item": message(self._item_id(), status, text_so_far),
            },
        ]

    def _end(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self.ended = True
        status = JobStatus(event.get("status", JobStatus.failed))
        output = event.get("output")
        final = response_object(
            self.head,
            status,
            attempt=max(self.attempt, 1),
            output=output,
            usage=event.get("usage"),
            error=event.get("error"),
            finished_at=float(event.get("ts", 0)) or None,
        )
        found: list[dict[str, Any]] = []
        if status is JobStatus.succeeded:
            found = self._open()
            item_status = "completed" if final["status"] == "completed" else "incomplete"
            found += self._close(item_status, output_text(output))
        elif self.open_item:
            found = self._close("incomplete")
        found.append({"type": _TERMINAL_EVENT[final["status"]], "response": final})
        return found


def sse(event: dict[str, Any]) -> str:
    """One Response event as SSE: its type in `event:`, the whole event in `data:`."""
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n"
