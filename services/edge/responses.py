"""OpenAI's Responses API as a thin translation of the job model: a response is a chat job
(`resp_<job id>`), its status the job's, its stream the job's event log translated
(`edge.response_events`), its cancel the job's cancel. Any edge serves any response.
"""

import asyncio
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

from contracts.errors import ErrorCode
from contracts.jobs import TERMINAL_STATUSES, JobRequest, JobStatus
from contracts.pools import ModelKind
from contracts.responses import (
    RESPONSE_ID_PREFIX,
    SETTINGS_FIELD,
    ResponseCreateRequest,
    ResponseSettings,
)
from contracts.wire import JOB_ID_PATTERN
from edge import records
from edge.deps import EdgeState
from edge.errors import ApiError, BadRequest, Gone, NotFound, ServiceUnavailable
from edge.fanout import LOST, is_end
from edge.follow import IDLE, follow
from edge.jobs import submit_job
from edge.response_events import ResponseEvents, sse
from edge.response_objects import Head, response_object

_JOB_ID_LENGTH = 32
_JOB_ID = re.compile(JOB_ID_PATTERN)


def response_not_found(response_id: str) -> NotFound:
    """The one answer for a response that does not exist, is not the caller's, or was
    deleted, and for an id that cannot be one."""
    return NotFound(ErrorCode.not_found, f"No response found with id {response_id[:60]!r}")


def job_of(response_id: str) -> str:
    """The job id a response id names (`resp_<job id>`), or the 404."""
    job_id = response_id.removeprefix(RESPONSE_ID_PREFIX)
    if job_id == response_id or len(job_id) != _JOB_ID_LENGTH or not _is_job_id(job_id):
        raise response_not_found(response_id)
    return job_id


def _is_job_id(text: str) -> bool:
    return _JOB_ID.fullmatch(text) is not None


async def submit_response(state: EdgeState, user: str, body: ResponseCreateRequest) -> Head:
    """Queue the response's chat job and keep what its Response object echoes."""
    pool = state.store.pool_for(body.model)
    if pool.kind != ModelKind.chat:
        raise BadRequest(
            ErrorCode.invalid_request,
            f"{pool.name!r} is a {pool.kind} model: /v1/responses takes chat models",
        )
    request = JobRequest(
        model=body.model, input={"messages": body.messages()}, params=body.params()
    )
    job_id = (await submit_job(state, user, request)).accepted.id
    settings = ResponseSettings(
        background=body.background,
        instructions=body.instructions,
        max_output_tokens=body.max_output_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        metadata=body.metadata or {},
    )
    key = state.store.keys.job(job_id)
    async with state.redis.pipeline(transaction=False) as pipe:
        pipe.hset(key, SETTINGS_FIELD, settings.model_dump_json())
        pipe.hget(key, "created_at")
        _, created_at = await pipe.execute()
    return Head(job_id, pool.name, float(created_at or 0), settings)


async def read_response(
    state: EdgeState, user: str, job_id: str
) -> tuple[Head, dict[str, str], Any]:
    """The response's head, raw record (without output) and parsed output (once ended);
    the 404 for a job that is missing, another user's, or of no chat model (an embeddings
    job is no response, and its output, up to 16 MiB, is never parsed here)."""
    key = state.store.keys.job(job_id)
    async with state.redis.pipeline(transaction=False) as pipe:
        pipe.hmget(key, list(records.FIELDS))
        pipe.hget(key, SETTINGS_FIELD)
        values, settings = await pipe.execute()
    record = records.present(cast(list[str | None], values))
    pool = state.store.pools.get(record.get("model", ""))
    if record.get("owner") != user or pool is None or pool.kind != ModelKind.chat:
        raise response_not_found(f"{RESPONSE_ID_PREFIX}{job_id}")
    stored = ResponseSettings.model_validate_json(settings) if settings else ResponseSettings()
    head = Head(job_id, record["model"], float(record["created_at"]), stored)
    output = await state.redis.hget(key, records.OUTPUT) if is_ended(record) else None
    return head, record, json.loads(output) if output else None


def record_response(head: Head, record: dict[str, str], output: Any) -> dict[str, Any]:
    """The Response object of a job's record."""

    def loads(name: str) -> Any:
        return json.loads(record[name]) if record.get(name) else None

    finished = record.get("finished_at")
    return response_object(
        head,
        JobStatus(record["status"]),
        attempt=int(record.get("attempt", 1) or 1),
        output=output,
        usage=loads("usage"),
        error=loads("error"),
        finished_at=float(finished) if finished else None,
    )


async def wait_for_end(state: EdgeState, job_id: str, after: int, seconds: float) -> bool:
    """Whether the job ended within `seconds` (its `job-end` after seq `after`)."""
    try:
        async with asyncio.timeout(seconds):
            async for seq, data in follow(state, job_id, after):
                if seq == LOST or is_end(data):
                    return True
    except TimeoutError:
        return False
    return False


async def end_of(state: EdgeState, job_id: str) -> None:
    """Wait until the job ends (as `/v1/chat/completions` does: the pool's `max_seconds`
    bounds a job), or its log is lost."""
    async for seq, data in follow(state, job_id):
        if seq == LOST or is_end(data):
            return


class Replay:
    """A response's events after `starting_after`, from its job's log read from the start.

    `open` reads the log as far as it went when the request came (`last_seq`, the record's
    seq), so a position past every event numbered so far is refused before anything is
    sent; `rest` then sends what was found and follows the log to its end."""

    def __init__(self, state: EdgeState, head: Head, starting_after: int) -> None:
        self.state = state
        self.events = ResponseEvents(head)
        self.starting_after = starting_after
        self.found: list[str] = []
        keepalive = state.settings.sse_keepalive_seconds
        self.log = cast(
            AsyncGenerator[tuple[int, str], None],
            follow(state, head.job_id, 0, idle_seconds=keepalive),
        )

    def _take(self, data: str) -> None:
        for event in self.events.translate(json.loads(data)):
            if event["sequence_number"] > self.starting_after:
                self.found.append(sse(event))

    async def open(self, last_seq: int) -> None:
        try:
            seq = 0
            while seq < last_seq:
                seq, data = await anext(self.log)
                if seq == LOST:  # its log expired, or was lost with Redis, meanwhile
                    lost = _lost(self.events.number, data)
                    raise Gone(lost["code"], lost["message"])
                if (seq, data) != IDLE:
                    self._take(data)
        except (ApiError, StopAsyncIteration) as exc:
            await self.log.aclose()
            if isinstance(exc, ApiError):
                raise
            raise ServiceUnavailable(
                ErrorCode.slow_consumer, "the event log could not be read in time; retry"
            ) from exc
        if self.starting_after >= self.events.number:
            await self.log.aclose()
            raise BadRequest(
                ErrorCode.seq_out_of_range,
                f"starting_after {self.starting_after} is past the response's last event "
                f"({self.events.number - 1})",
            )

    async def rest(self) -> AsyncIterator[str]:
        try:
            for chunk in self.found:
                yield chunk
            self.found = []
            if self.events.ended:
                return
            async for seq, data in self.log:
                if (seq, data) == IDLE:
                    yield ": keepalive\n\n"
                elif seq == LOST:
                    yield sse(_lost(self.events.number, data))
                    return
                else:
                    self._take(data)
                    for chunk in self.found:
                        yield chunk
                    self.found = []
                    if self.events.ended:
                        return
        finally:
            await self.log.aclose()


def _lost(number: int, data: str) -> dict[str, Any]:
    """The stream's last event when the log vanished under it (expired, or lost with Redis)."""
    lost = json.loads(data)
    code, message = lost.get("code", "job_lost"), lost.get("message", "the events are gone")
    return {
        "type": "error",
        "code": code,
        "message": message,
        "param": None,
        "sequence_number": number,
    }


def is_ended(record: dict[str, str]) -> bool:
    return record.get("status") in TERMINAL_STATUSES
