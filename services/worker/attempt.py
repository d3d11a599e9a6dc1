"""One attempt of one job, between its `job-start` and its `job-end`: what the engine produced
so far, turned into events, and the `job-end` that closes it.

Every way an attempt can end has a constructor here (`job_end`, `failed`, `timed_out`,
`too_large`), so the runner spells each ending once.
"""

import asyncio
import logging
import time
from typing import Any, Protocol

from contracts.errors import ErrorCode, ErrorDetail
from contracts.events import JobEnd, JobReset, JobStart, Usage
from contracts.events import Progress as ProgressEvent
from contracts.jobs import JobStatus
from contracts.log import text_delta_json
from worker.engines.base import JobContext, Progress, Result, Text, output_size, text_size
from worker.errors import EngineError

log = logging.getLogger("relayline.worker")

END = object()
"""What the runner's queue carries after the engine's last item."""

Event = JobStart | JobReset | str | ProgressEvent | JobEnd
"""What an attempt writes; a `text-delta` goes as its JSON (`Deltas.drain`)."""


class EventWriter(Protocol):
    cancel_requested: bool

    async def append(self, event: Event) -> None: ...


def job_end(
    job_id: str,
    status: JobStatus,
    output: Any = None,
    usage: Usage | None = None,
    error: ErrorDetail | None = None,
) -> JobEnd:
    return JobEnd(
        job_id=job_id, seq=1, ts=time.time(), status=status, output=output, usage=usage, error=error
    )


def failed(job_id: str, exc: BaseException) -> JobEnd:
    """The end of a job whose engine raised: its `EngineError` code, else `engine_error`."""
    code: str = ErrorCode.engine_error
    if isinstance(exc, EngineError):
        message, code = str(exc), exc.code
    else:
        log.error("engine failed on job %s", job_id, exc_info=exc)
        message = f"the model failed: {type(exc).__name__}: {exc}"[:500]
    return job_end(job_id, JobStatus.failed, error=ErrorDetail(code=code, message=message))


def timed_out(job_id: str, max_seconds: float) -> JobEnd:
    message = f"the job ran longer than this model's limit of {max_seconds:g} seconds"
    return job_end(
        job_id, JobStatus.failed, error=ErrorDetail(code=ErrorCode.timeout, message=message)
    )


def too_large(job_id: str, max_output_bytes: int) -> JobEnd:
    message = (
        f"the output passed this model's limit of {max_output_bytes} bytes: ask for less "
        "(fewer texts, a lower max_tokens)"
    )
    error = ErrorDetail(code=ErrorCode.output_too_large, message=message)
    return job_end(job_id, JobStatus.failed, error=error)


class Deltas:
    """Text of one attempt, coalesced into one `text-delta` per `coalesce_seconds`.

    Coalescing spares events while a model streams; it does not delay the first token. The
    attempt's first text is due at once, and written as soon as the engine has nothing more
    ready (`Attempt.wait`): a model's first token goes out alone, while an engine that gives
    all its text at once still writes it with its end, in one round trip."""

    def __init__(self, events: EventWriter, job_id: str, coalesce_seconds: float) -> None:
        self.events, self.job_id, self.coalesce_seconds = events, job_id, coalesce_seconds
        self.buffer: list[str] = []
        self.flushed_at: float | None = None  # None: no text written yet

    def due_in(self) -> float:
        if self.flushed_at is None:
            return 0.0
        elapsed = asyncio.get_running_loop().time() - self.flushed_at
        return max(0.0, self.coalesce_seconds - elapsed)

    async def add(self, text: str, flush: bool = True) -> None:
        """Buffer `text`; write the buffer once its window has passed, even while the engine
        is ahead (unless not to `flush`: the caller writes it). The first text waits for the
        engine's first pause instead (unless nothing is coalesced)."""
        self.buffer.append(text)
        waits_for_pause = self.flushed_at is None and self.coalesce_seconds > 0
        if flush and self.due_in() == 0 and not waits_for_pause:
            await self.flush()

    async def flush(self) -> None:
        for delta in self.drain():
            await self.events.append(delta)
        self.flushed_at = asyncio.get_running_loop().time()

    def drain(self) -> list[str]:
        """The text not written yet, as the `text-delta` to write with the job's end: its
        JSON, built without the model (`contracts.log.text_delta_json`)."""
        if not self.buffer:
            return []
        delta = "".join(self.buffer)
        self.buffer.clear()
        return [text_delta_json(self.job_id, time.time(), delta)]


class Attempt:
    """`take` turns each item of the engine into events and answers the job's end once
    there is one; output past `max_output_bytes` ends it (an engine that ignored the cap)."""

    def __init__(
        self,
        events: EventWriter,
        context: JobContext,
        *,
        coalesce_seconds: float,
        cancel_poll_seconds: float,
        max_output_bytes: int,
    ) -> None:
        self.events, self.job_id = events, context.id
        self.deltas = Deltas(events, context.id, coalesce_seconds)
        self.cancel_poll_seconds = cancel_poll_seconds
        self.max_output_bytes = max_output_bytes
        self.text_bytes = 0
        self.result: Result | None = None

    def wait(self) -> float:
        """How long to wait for the engine before flushing text or polling for a cancel."""
        return self.deltas.due_in() if self.deltas.buffer else self.cancel_poll_seconds

    async def take(self, item: object, flush: bool = True) -> JobEnd | None:
        """The job's end, once there is one: the text not written yet goes with it
        (`deltas.drain`). `flush`: as `Deltas.add`'s, for text."""
        if item is END or isinstance(item, BaseException):
            if isinstance(item, BaseException):
                return failed(self.job_id, item)
            if self.result is None:
                return failed(self.job_id, EngineError("the engine ended without a result"))
            return job_end(self.job_id, JobStatus.succeeded, self.result.output, self.result.usage)
        if isinstance(item, Text):
            self.text_bytes += text_size(item.text)
            if self.text_bytes > self.max_output_bytes:
                return too_large(self.job_id, self.max_output_bytes)
            await self.deltas.add(item.text, flush)
        elif isinstance(item, Progress):
            await self.deltas.flush()
            await self.events.append(
                ProgressEvent(
                    job_id=self.job_id, seq=1, ts=time.time(), done=item.done, total=item.total
                )
            )
        elif isinstance(item, Result):
            try:
                size = output_size(item.output)
            except ValueError as exc:  # what the engine returned cannot be stored as JSON
                return failed(self.job_id, exc)
            if size > self.max_output_bytes:
                return too_large(self.job_id, self.max_output_bytes)
            self.result = item
        if self.events.cancel_requested:
            return job_end(self.job_id, JobStatus.cancelled)
        return None
