"""One multiplexed WebSocket (`/v1/ws`): a receive loop, a sender task, and the hub's
catch-up task per subscription. See `contracts.wire` for the messages."""

import asyncio
import json
import logging

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from redis.exceptions import RedisError

from contracts.errors import WS_CLOSE_SLOW_CONSUMER, ErrorCode
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
from edge.deps import EdgeState, close_quietly
from edge.errors import ApiError, describe_validation_error, redis_failure
from edge.fanout import LOST, STARTS, Item, Outbox, is_end
from edge.guards import take_token
from edge.jobs import submit_job
from edge.metrics import EVENTS_SENT, SLOW_CLIENTS
from edge.positions import check_position, has_nothing_after
from edge.ratelimit import RateLimited, Token
from edge.wsframes import FramesClosed, frame_of, frame_writer

log = logging.getLogger("relayline.edge")

SEND_BATCH_CHARS = 64 << 10
"""The most a sender writes at once (as characters of JSON; one larger message goes alone):
about the transport's high-water mark, past which the sender waits for the socket to
drain, so a slow client's events wait in its bounded outbox, not in the transport."""
WS_EVENTS_SENT = EVENTS_SENT.labels("ws")


class Connection:
    """One WebSocket: a receive loop (this task), a sender task; the hub runs a catch-up
    task per subscription."""

    def __init__(self, websocket: WebSocket, state: EdgeState, user: str) -> None:
        self.websocket = websocket
        self.state = state
        self.user = user
        self.guards = websocket.app.state.guards
        settings = state.settings
        self.outbox = Outbox(
            settings.client_queue_size, settings.client_queue_bytes, on_overflow=self._slow
        )
        self.last_sent: dict[str, int] = {}
        self.closer: asyncio.Task[None] | None = None
        self.sender: asyncio.Task[None] | None = None

    def _slow(self) -> None:
        SLOW_CLIENTS.inc()
        if self.sender:
            self.sender.cancel()
        reason = "slow consumer: events were not read"
        self.closer = asyncio.create_task(
            close_quietly(self.websocket, WS_CLOSE_SLOW_CONSUMER, reason, seconds=5)
        )

    async def run(self) -> None:
        self.sender = asyncio.create_task(self._send_loop())
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message.get("text"))
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            self.sender.cancel()
            self.state.hub.drop(self.outbox)

    async def _send_loop(self) -> None:
        """Sends what the outbox holds: with the edge's frame writer, every ready message in
        one write (an event's frame built once for all its watchers, edge.wsframes)."""
        writer = frame_writer(self.websocket.scope)
        while True:
            items = await self.outbox.get_many(SEND_BATCH_CHARS)
            messages = [data for item in items if (data := self._sendable(item)) is not None]
            if writer is None:
                for data in messages:
                    await self.websocket.send_text(data)
                continue
            try:
                await writer.write(b"".join(frame_of(data) for data in messages))
            except FramesClosed:
                return

    def _sendable(self, item: Item) -> str | None:
        """The message to send for `item`, or None for an event already sent."""
        job_id, seq, data = item
        if seq == STARTS and job_id is not None:  # what was queued before it is dropped
            self.last_sent[job_id] = Subscribed.model_validate_json(data).after
        elif seq == LOST and job_id is not None:
            self.last_sent.pop(job_id, None)
            self.state.hub.unsubscribe(self.outbox, job_id)
        elif job_id is not None:
            last = self.last_sent.get(job_id)
            if last is None or seq <= last:
                return None
            self.last_sent[job_id] = seq
            if is_end(data):
                del self.last_sent[job_id]
                self.state.hub.unsubscribe(self.outbox, job_id)
            WS_EVENTS_SENT.inc()
        return data

    async def _reply(
        self, message: Pong | Subscribed | Unsubscribed | Submitted | WireError
    ) -> None:
        await self.outbox.send_control(message.model_dump_json())

    async def _handle(self, text: str | None) -> None:
        # Every message costs a token of the user's request bucket; a `submit`'s is taken by
        # the script that queues its job (`SUBMIT`), one round trip fewer for each job. Until
        # the bucket can allow one more, a message is refused here: not parsed, no Redis.
        if (known := self.guards.rates.request_refusal(self.user)) is not None:
            refused = RateLimited(known, self.user)
            await self._reply(
                WireError(code=refused.code, message=refused.message, ref=_ref_of(text))
            )
            return
        try:
            message = _parse(text, self.state.settings.max_body_bytes)
        except _BadMessage as exc:
            if await self._token(exc.ref):
                await self._reply(WireError(code=exc.code, message=exc.message, ref=exc.ref))
            return
        if not isinstance(message, Submit) and not await self._token(message.ref):
            return
        job_id = getattr(message, "job_id", None)
        try:
            await self._dispatch(message)
        except ApiError as exc:
            if isinstance(exc, RateLimited):  # (`SUBMIT`'s, or taken on its own)
                self.guards.rates.request_refused(self.user, exc.decision)
            await self._reply(
                WireError(code=exc.code, message=exc.message, ref=message.ref, job_id=job_id)
            )
        except (RedisError, OSError) as exc:
            failure = redis_failure(exc)
            if failure is None:
                raise
            await self._reply(
                WireError(
                    code=failure.code, message=failure.message, ref=message.ref, job_id=job_id
                )
            )

    async def _token(self, ref: str | None) -> bool:
        """Takes a message's token; False when the bucket is empty (and the client was told)."""
        try:
            await take_token(self.guards, self.user)
        except RateLimited as exc:
            await self._reply(WireError(code=exc.code, message=exc.message, ref=ref))
            return False
        return True

    async def _dispatch(self, message: ClientMessage) -> None:
        store = self.state.store
        if isinstance(message, Ping):
            await self._reply(Pong(ref=message.ref))
        elif isinstance(message, Subscribe):
            record = await store.owned_record(self.user, message.job_id)
            check_position(record, message.after)
            if has_nothing_after(record, message.after):  # nothing will ever come: say so
                await self._reply(
                    Subscribed(job_id=message.job_id, after=message.after, ref=message.ref)
                )
                await self._reply(Unsubscribed(job_id=message.job_id, ref=message.ref))
                return
            await self._subscribe(message.job_id, message.after, message.ref)
        elif isinstance(message, Unsubscribe):
            self.last_sent.pop(message.job_id, None)
            self.state.hub.unsubscribe(self.outbox, message.job_id)  # cancels its catch-up
            await self._reply(Unsubscribed(job_id=message.job_id, ref=message.ref))
        elif isinstance(message, Submit):
            token = Token()
            try:
                accepted, created = await submit_job(self.state, self.user, message.request, token)
            except ApiError:
                if not token.taken:  # refused before `SUBMIT`: the token all the same
                    await take_token(self.guards, self.user)
                raise
            await self._reply(
                Submitted(job_id=accepted.id, status=accepted.status, ref=message.ref)
            )
            if message.subscribe:
                await self._subscribe(accepted.id, 0, None, created=created)
        elif isinstance(message, Cancel):
            await store.cancel(self.user, message.job_id)

    async def _subscribe(
        self, job_id: str, after: int, ref: str | None, *, created: bool = False
    ) -> None:
        self.last_sent.pop(job_id, None)
        self.state.hub.unsubscribe(self.outbox, job_id)
        # The sender counts this subscription's events from `subscribed` on: events of an
        # earlier one still queued before it are dropped, never counted as sent for this one
        # (the sender, not this loop, must say when: it may not have reached them yet).
        subscribed = Subscribed(job_id=job_id, after=after, ref=ref)
        await self.outbox.send_control(subscribed.model_dump_json(), starts=job_id)
        self.state.hub.subscribe(self.outbox, job_id, after, created=created)


class _BadMessage(Exception):
    def __init__(self, code: str, message: str, ref: str | None) -> None:
        self.code, self.message, self.ref = code, message, ref


def _parse(text: str | None, max_chars: int) -> ClientMessage:
    if text is None:
        raise _BadMessage(ErrorCode.invalid_request, "send messages as text frames", None)
    if len(text) > max_chars:
        message = f"a message is at most {max_chars} characters"
        raise _BadMessage(ErrorCode.payload_too_large, message, None)
    try:  # a valid message in one pass (pydantic's JSON parser: no second walk of its text)
        return ClientMessageAdapter.validate_json(text)
    except ValidationError:
        pass  # parsed again below, to say what is wrong as a client is told it
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise _BadMessage(ErrorCode.invalid_json, "the message is not valid JSON", None) from None
    if not isinstance(raw, dict):
        raise _BadMessage(ErrorCode.invalid_request, "a message is a JSON object", None)
    ref = _echoable(raw.get("ref"))
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_MESSAGE_TYPES:
        expected = ", ".join(CLIENT_MESSAGE_TYPES)
        raise _BadMessage(
            ErrorCode.unknown_message_type,
            f"unknown type {repr(kind)[:40]}; expected one of {expected}",
            ref,
        )
    try:
        return ClientMessageAdapter.validate_python(raw)
    except ValidationError as exc:
        code, message = describe_validation_error([dict(error) for error in exc.errors()])
        raise _BadMessage(code, message, ref) from None


REF_PARSE_CHARS = 4096
"""A message refused before it was parsed is parsed for its `ref` only when it is this short."""


def _ref_of(text: str | None) -> str | None:
    """The `ref` of a short message refused unparsed, to echo; else none."""
    if text is None or len(text) > REF_PARSE_CHARS:
        return None
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return _echoable(raw.get("ref")) if isinstance(raw, dict) else None


def _echoable(ref: object) -> str | None:
    """A `ref` fit to echo in an error: a short string of valid Unicode, else none."""
    if not isinstance(ref, str) or len(ref) > 100:
        return None
    try:
        ref.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return ref
