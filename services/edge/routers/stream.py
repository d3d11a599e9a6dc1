"""Event delivery: SSE for one job, and the multiplexed WebSocket.

Both are served by the process's one fan-out `Hub`; each client has a bounded `Outbox`.
A client that stops reading is cut off (WebSocket close 4008, or the SSE stream ends)
rather than buffered without limit.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from redis.exceptions import RedisError

from contracts.errors import WS_CLOSE_SLOW_CONSUMER, WS_CLOSE_UNAUTHORIZED, ErrorCode
from contracts.jobs import TERMINAL_STATUSES
from contracts.wire import (
    CLIENT_MESSAGE_TYPES,
    Cancel,
    ClientMessage,
    ClientMessageAdapter,
    Ping,
    Pong,
    Submit,
    Submitted,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    WireError,
)
from edge.deps import CurrentUser, EdgeState, StateDep, close_quietly
from edge.errors import ApiError, BadRequest, describe_validation_error
from edge.fanout import LOST, Outbox, is_end
from edge.follow import IDLE, follow
from edge.guards import check_message
from edge.identity import resolve_user
from edge.metrics import CLIENTS, EVENTS_SENT, SLOW_CLIENTS
from edge.routers.jobs import submit_job

log = logging.getLogger("relayline.edge")
router = APIRouter(prefix="/v1", tags=["events"])


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(
    job_id: str,
    state: StateDep,
    user: CurrentUser,
    after: Annotated[int | None, Query(ge=0, description="The last seq seen")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events of a job's log: `id` is the seq, `data` the event. Resume with
    `Last-Event-ID` or `?after=`; the stream ends after `job-end`."""
    record = await state.store.owned_record(user, job_id)
    if last_event_id is not None:
        if not last_event_id.isdigit():
            raise BadRequest(ErrorCode.invalid_request, "Last-Event-ID must be a seq number")
        after = int(last_event_id)
    after = after or 0
    events = _ended() if has_nothing_after(record, after) else _sse(state, job_id, after)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def has_nothing_after(record: dict[str, str], after: int) -> bool:
    """The job ended and the client has its last event: there is nothing left to send."""
    return record.get("status") in TERMINAL_STATUSES and int(record.get("seq", 0)) <= after


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


class _Connection:
    """One WebSocket: a receive loop (this task), a sender task, a catch-up task per
    subscription."""

    def __init__(self, websocket: WebSocket, state: EdgeState, user: str) -> None:
        self.websocket = websocket
        self.state = state
        self.user = user
        self.outbox = Outbox(state.settings.client_queue_size, on_overflow=self._slow)
        self.last_sent: dict[str, int] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.sender: asyncio.Task[None] | None = None

    def _slow(self) -> None:
        SLOW_CLIENTS.inc()
        if self.sender:
            self.sender.cancel()
        reason = "slow consumer: events were not read"
        self._spawn(close_quietly(self.websocket, WS_CLOSE_SLOW_CONSUMER, reason, seconds=5))

    def _spawn(self, coroutine: "asyncio._CoroutineLike[None]") -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: "asyncio.Task[None]") -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a WebSocket task failed", exc_info=task.exception())

    async def run(self) -> None:
        self.sender = asyncio.create_task(self._send_loop())
        try:
            while True:
                text = await self.websocket.receive_text()
                await self._handle(text)
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            self.sender.cancel()
            for task in list(self.tasks):
                task.cancel()
            self.state.hub.drop(self.outbox)

    async def _send_loop(self) -> None:
        hub = self.state.hub
        while True:
            job_id, seq, data = await self.outbox.queue.get()
            if seq == LOST and job_id is not None:
                self.last_sent.pop(job_id, None)
                hub.unsubscribe(self.outbox, job_id)
            elif job_id is not None:
                last = self.last_sent.get(job_id)
                if last is None or seq <= last:
                    continue
                self.last_sent[job_id] = seq
                if is_end(data):
                    del self.last_sent[job_id]
                    hub.unsubscribe(self.outbox, job_id)
                EVENTS_SENT.labels("ws").inc()
            await self.websocket.send_text(data)

    async def _reply(
        self, message: Pong | Subscribed | Unsubscribed | Submitted | WireError
    ) -> None:
        await self.outbox.send_control(message.model_dump_json())

    async def _handle(self, text: str) -> None:
        try:
            message = _parse(text)
        except _BadMessage as exc:
            await self._reply(WireError(code=exc.code, message=exc.message, ref=exc.ref))
            return
        job_id = getattr(message, "job_id", None)
        try:
            await self._dispatch(message)
        except ApiError as exc:
            await self._reply(
                WireError(code=exc.code, message=exc.message, ref=message.ref, job_id=job_id)
            )
        except (RedisError, OSError) as exc:
            log.warning("redis unavailable for a WebSocket %s: %s", message.type, exc)
            await self._reply(
                WireError(
                    code=ErrorCode.redis_unavailable,
                    message="the job store is unreachable; retry shortly",
                    ref=message.ref,
                    job_id=job_id,
                )
            )

    async def _dispatch(self, message: ClientMessage) -> None:
        await check_message(self.websocket.app.state.guards, self.user)  # the request bucket
        store = self.state.store
        if isinstance(message, Ping):
            await self._reply(Pong(ref=message.ref))
        elif isinstance(message, Subscribe):
            record = await store.owned_record(self.user, message.job_id)
            if has_nothing_after(record, message.after):  # nothing will ever come: say so
                await self._reply(
                    Subscribed(job_id=message.job_id, after=message.after, ref=message.ref)
                )
                await self._reply(Unsubscribed(job_id=message.job_id, ref=message.ref))
                return
            await self._subscribe(message.job_id, message.after, message.ref)
        elif isinstance(message, Unsubscribe):
            self.last_sent.pop(message.job_id, None)
            self.state.hub.unsubscribe(self.outbox, message.job_id)
            await self._reply(Unsubscribed(job_id=message.job_id, ref=message.ref))
        elif isinstance(message, Submit):
            accepted = await submit_job(self.state, self.user, message.request)
            await self._reply(
                Submitted(job_id=accepted.id, status=accepted.status, ref=message.ref)
            )
            if message.subscribe:
                await self._subscribe(accepted.id, 0, None)
        elif isinstance(message, Cancel):
            await store.cancel(self.user, message.job_id)

    async def _subscribe(self, job_id: str, after: int, ref: str | None) -> None:
        self.state.hub.unsubscribe(self.outbox, job_id)
        self.last_sent[job_id] = after
        await self._reply(Subscribed(job_id=job_id, after=after, ref=ref))
        self._spawn(self.state.hub.subscribe(self.outbox, job_id, after))


class _BadMessage(Exception):
    def __init__(self, code: str, message: str, ref: str | None) -> None:
        self.code, self.message, self.ref = code, message, ref


def _parse(text: str) -> ClientMessage:
    try:
        raw = json.loads(text)
    except ValueError:
        raise _BadMessage(ErrorCode.invalid_json, "the message is not valid JSON", None) from None
    if not isinstance(raw, dict):
        raise _BadMessage(ErrorCode.invalid_request, "a message is a JSON object", None)
    ref = raw.get("ref") if isinstance(raw.get("ref"), str) else None
    kind = raw.get("type")
    if kind not in CLIENT_MESSAGE_TYPES:
        expected = ", ".join(CLIENT_MESSAGE_TYPES)
        raise _BadMessage(
            ErrorCode.unknown_message_type,
            f"unknown type {kind!r}; expected one of {expected}",
            ref,
        )
    try:
        return ClientMessageAdapter.validate_python(raw)
    except ValidationError as exc:
        code, message = describe_validation_error([dict(error) for error in exc.errors()])
        raise _BadMessage(code, message, ref) from None


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
        await _Connection(websocket, state, user).run()
    finally:
        state.sockets.discard(websocket)
        CLIENTS.labels("ws").dec()
