"""Event delivery: SSE for one job, and the multiplexed WebSocket.

Both are served by the process's one fan-out `Hub`; each client has a bounded `Outbox`.
A client that stops reading is cut off (WebSocket close 4008, or the SSE stream ends)
rather than buffered without limit.
"""

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, WebSocket
from fastapi.responses import Response, StreamingResponse

from contracts.errors import WS_CLOSE_UNAUTHORIZED, ExpiredBody
from contracts.jobs import TERMINAL_STATUSES, SeqPosition
from edge.connection import Connection
from edge.deps import CurrentUser, EdgeState, StateDep
from edge.errors import (
    ApiError,
    error_responses,
    expired_response,
)
from edge.fanout import LOST
from edge.follow import IDLE, follow
from edge.identity import resolve_user
from edge.metrics import CLIENTS, EVENTS_SENT
from edge.positions import check_position, has_nothing_after, parse_last_event_id

log = logging.getLogger("relayline.edge")
router = APIRouter(prefix="/v1", tags=["events"])

SeqQuery = SeqPosition | None


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        410: {"model": ExpiredBody, "description": "`events_expired`: the log expired"},
        **error_responses(400, 401, 404, 422, 429, 503),
    },
)
async def job_events(
    job_id: str,
    state: StateDep,
    user: CurrentUser,
    after: Annotated[SeqQuery, Query(description="The last seq seen")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """Server-sent events of a job's log: `id` is the seq, `data` the event. Resume with
    `Last-Event-ID` or `?after=`; the stream ends after `job-end`. A resume after the log
    expired gets `410 events_expired` with the job's final record."""
    record = await state.store.owned_record(user, job_id)
    if last_event_id is not None:
        after = parse_last_event_id(last_event_id)
    after = after or 0
    check_position(record, after)
    if has_nothing_after(record, after):
        events = _ended()
    elif record.get("status") in TERMINAL_STATUSES and not await state.store.has_events(job_id):
        return expired_response(job_id, await state.store.get(user, job_id))
    else:
        events = _sse(state, job_id, after)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _ended() -> AsyncIterator[str]:
    yield "retry: 1000\n\n"


async def _sse(state: EdgeState, job_id: str, after: int) -> AsyncIterator[str]:
    CLIENTS.labels("sse").inc()
    try:
        yield "retry: 1000\n\n"
        keepalive = state.settings.sse_keepalive_seconds
        async for seq, data in follow(state, job_id, after, idle_seconds=keepalive):
            if (seq, data) == IDLE:
                yield ": keepalive\n\n"
                continue
            if seq == LOST:
                yield f"event: error\ndata: {data}\n\n"
                return
            EVENTS_SENT.labels("sse").inc()
            yield f"id: {seq}\ndata: {data}\n\n"
    finally:
        CLIENTS.labels("sse").dec()


@router.websocket("/ws")
async def websocket(websocket: WebSocket) -> None:
    """Multiplexed events: see `contracts.wire` for the messages."""
    state: EdgeState = websocket.app.state.edge
    try:
        user = resolve_user(websocket.scope, state.api_keys, state.settings.guest_mode)
    except ApiError as exc:
        await websocket.close(WS_CLOSE_UNAUTHORIZED, exc.message)
        return
    await websocket.accept()
    CLIENTS.labels("ws").inc()
    state.sockets.add(websocket)
    try:
        await Connection(websocket, state, user).run()
    finally:
        state.sockets.discard(websocket)
        CLIENTS.labels("ws").dec()
