"""AI SDK chats: each user's chat id points at its latest job (`Keys.ui_chat`).

The pointer is all a chat is: the answer itself is an ordinary chat job, so its stream,
resume, cancel and limits are the job's. A pointer is per user (another user's chat id
finds nothing) and lives as long as a job record (`EDGE_EVENT_RETENTION_SECONDS`); a job
it names is read only through its owner check as well.
"""

import json
from collections.abc import AsyncIterator

from fastapi.responses import Response, StreamingResponse

from contracts.jobs import TERMINAL_STATUSES, JobStatus
from edge.deps import EdgeState
from edge.errors import ApiError
from edge.fanout import LOST
from edge.follow import IDLE, follow
from edge.uichat_chunks import DONE, HEADERS, KEEPALIVE, Translation, error_chunk, frame


async def point(state: EdgeState, user: str, chat_id: str, job_id: str) -> None:
    """Make `job_id` the chat's answer; a previous answer still running is cancelled (a new
    message replaces it). One atomic swap, so of two racing messages one answer survives."""
    key = state.store.keys.ui_chat(user, chat_id)
    ttl = state.settings.event_retention_seconds
    previous = await state.redis.set(key, job_id, ex=ttl, get=True)
    if isinstance(previous, bytes | str) and _text(previous) != job_id:
        await cancel(state, user, _text(previous))


async def latest(state: EdgeState, user: str, chat_id: str) -> tuple[str, JobStatus] | None:
    """The chat's latest job and its status, or None (no such chat of this user, or its job
    is gone)."""
    job_id = await state.redis.get(state.store.keys.ui_chat(user, chat_id))
    if not isinstance(job_id, bytes | str):
        return None
    try:
        record = await state.store.owned_record(user, _text(job_id))
    except ApiError:
        return None
    return record["id"], JobStatus(record["status"])


async def cancel(state: EdgeState, user: str, job_id: str) -> JobStatus | None:
    """Cancel the job if it has not ended; its status afterwards (None: not this user's)."""
    try:
        record = await state.store.owned_record(user, job_id)
        if record["status"] in TERMINAL_STATUSES:
            return JobStatus(record["status"])
        answer = json.loads(await state.store.cancel(user, job_id))
    except ApiError:
        return None
    return JobStatus(answer["status"])


def stream_response(state: EdgeState, job_id: str) -> Response:
    headers = {**HEADERS, "X-Relayline-Job-Id": job_id}
    return StreamingResponse(
        ui_stream(state, job_id), media_type="text/event-stream", headers=headers
    )


async def ui_stream(state: EdgeState, job_id: str) -> AsyncIterator[str]:
    """The job's whole log, from its start, as UI message stream chunks (`uichat_chunks`).
    A client that goes away stops only this stream: the job goes on."""
    translation = Translation(job_id)
    yield frame(translation.start())
    keepalive = state.settings.sse_keepalive_seconds
    lost = False
    async for seq, data in follow(state, job_id, 0, idle_seconds=keepalive):
        if (seq, data) == IDLE:
            yield KEEPALIVE
            continue
        event = json.loads(data)
        if seq == LOST:
            lost = True
            yield frame(error_chunk(event["code"], event["message"]))
            break
        for chunk in translation.chunks(event):
            yield frame(chunk, seq)
    if not translation.ended and not lost:
        yield frame(error_chunk("slow_consumer", "the stream fell behind and was cut off"))
    yield DONE


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
