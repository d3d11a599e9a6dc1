"""AI SDK chats: each user's chat id points at its latest job (`Keys.ui_chat`).

The pointer is all a chat is: the answer itself is an ordinary chat job, so its stream,
resume, cancel and limits are the job's. A pointer is per user (another user's chat id
finds nothing) and lives as long as a job record (`EDGE_EVENT_RETENTION_SECONDS`); a job
it names is read only through its owner check as well.
"""

import json
from collections.abc import AsyncIterator
from typing import cast

from fastapi.responses import Response, StreamingResponse
from redis.asyncio import Redis

from contracts.jobs import TERMINAL_STATUSES, JobStatus
from contracts.keys import Keys, seq_of_entry_id
from contracts.log import EVENT_FIELD
from edge.deps import EdgeState
from edge.errors import ApiError
from edge.fanout import LOST
from edge.follow import IDLE, follow
from edge.uichat_chunks import (
    DONE,
    HEADERS,
    KEEPALIVE,
    ResetMode,
    Translation,
    error_chunk,
    frame,
)

_PAGE = 256


async def point(state: EdgeState, user: str, chat_id: str, job_id: str) -> None:
    """Make `job_id` the chat's answer; a previous answer still running is cancelled (a new
    message replaces it). One atomic swap, so of two racing messages one answer survives."""
    key = state.store.keys.ui_chat(user, chat_id)
    ttl = state.settings.event_retention_seconds
    previous = await state.redis.set(key, job_id, ex=ttl, get=True)
    if isinstance(previous, bytes | str) and _text(previous) != job_id:
        await cancel(state, user, _text(previous))


async def latest(state: EdgeState, user: str, chat_id: str) -> dict[str, str] | None:
    """The raw record (`edge.records`) of the chat's latest job, or None (no such chat of
    this user, or its job is gone)."""
    job_id = await state.redis.get(state.store.keys.ui_chat(user, chat_id))
    if not isinstance(job_id, bytes | str):
        return None
    try:
        return await state.store.owned_record(user, _text(job_id))
    except ApiError:
        return None


async def last_reset(redis: Redis, keys: Keys, job_id: str) -> int:
    """The seq of the job's last `job-reset` (0: none), read from the log's end backwards:
    a resume starts after it, so it shows the running attempt only."""
    upper = "+"
    while True:
        page = await redis.xrevrange(keys.events(job_id), upper, "-", count=_PAGE)
        entries = cast(list[tuple[str, dict[str, str]]], page)
        if not entries:
            return 0
        for entry_id, fields in entries:
            raw = fields.get(EVENT_FIELD, "")
            if '"job-reset"' in raw and json.loads(raw).get("type") == "job-reset":
                return seq_of_entry_id(entry_id)
        upper = f"({entries[-1][0]}"


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


def stream_response(
    state: EdgeState, job_id: str, reset: ResetMode, after: int = 0, attempt: int = 1
) -> Response:
    headers = {**HEADERS, "X-Relayline-Job-Id": job_id}
    chunks = ui_stream(state, Translation(job_id, attempt, reset), after)
    return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)


async def ui_stream(state: EdgeState, translation: Translation, after: int) -> AsyncIterator[str]:
    """The job's log after `after` as UI message stream chunks (`uichat_chunks`), from a
    `start`. A client that goes away stops only this stream: the job goes on."""
    job_id = translation.job_id
    yield frame(translation.start())
    keepalive = state.settings.sse_keepalive_seconds
    lost = False
    async for seq, data in follow(state, job_id, after, idle_seconds=keepalive):
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
        if translation.ended:
            break
    if not translation.ended and not lost:
        yield frame(error_chunk("slow_consumer", "the stream fell behind and was cut off"))
    yield DONE


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
