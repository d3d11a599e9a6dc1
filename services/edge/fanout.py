"""Fan-out: one reader per edge process follows the event logs its clients watch.

    Redis rl:events:{id} ──XREAD (one call, every watched log)──► Hub._run
                                                                   │ deliver(job, seq, json)
                                   ┌───────────────────────────────┼──────────────┐
                                 Outbox (a WebSocket)          Outbox (an SSE stream) ...
                                   │ bounded queue; full ⇒ the client is cut off
                                   ▼
                                 sender task ──► socket

One Redis read serves an event to every local client, however many watch it. A client that
subscribes after seq `k` is first caught up by `XRANGE` of its own (in pages, with
backpressure), while live events for it wait in its subscription; then it goes live. The
sender drops any seq it has already sent, so the overlap between catch-up and live is exact.
The reader is woken with `CLIENT UNBLOCK` when a new log must join its blocking `XREAD`.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from contracts.keys import Keys, seq_of_entry_id
from contracts.log import EVENT_FIELD
from edge.metrics import FANOUT_READS

log = logging.getLogger("relayline.fanout")

CATCH_UP_PAGE = 500
READ_COUNT = 1000
END_MARKER = '"type":"job-end"'

Item = tuple[str | None, int, str]
"""(job id, seq, JSON) for an event; (None, 0, JSON) for a control message."""


def is_end(data: str) -> bool:
    return END_MARKER in data


@dataclass(eq=False)
class _Subscription:
    live: bool = False
    pending: deque[tuple[int, str]] = field(default_factory=deque)


class Outbox:
    """What one client connection is sent, in order, through a bounded queue."""

    def __init__(self, size: int, on_overflow: Callable[[], None]) -> None:
        self.size = size
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=size)
        self.subscriptions: dict[str, _Subscription] = {}
        self.overflowed = False
        self._on_overflow = on_overflow

    def deliver(self, job_id: str, seq: int, data: str) -> None:
        """Called by the reader; never blocks."""
        subscription = self.subscriptions.get(job_id)
        if subscription is None or self.overflowed:
            return
        if not subscription.live:
            if len(subscription.pending) >= self.size:
                self.overflow()
            else:
                subscription.pending.append((seq, data))
            return
        try:
            self.queue.put_nowait((job_id, seq, data))
        except asyncio.QueueFull:
            self.overflow()

    def overflow(self) -> None:
        if not self.overflowed:
            self.overflowed = True
            self._on_overflow()

    async def send_control(self, data: str) -> None:
        await self.queue.put((None, 0, data))


@dataclass(eq=False)
class _Watch:
    position: int | None
    outboxes: set[Outbox] = field(default_factory=set)


class Hub:
    def __init__(self, redis: Redis, reader: Redis, keys: Keys, block_ms: int) -> None:
        self.redis = redis
        self.reader = reader
        self.keys = keys
        self.block_ms = block_ms
        self.watches: dict[str, _Watch] = {}
        self._changed = asyncio.Event()
        self._reader_id: int | None = None
        self._blocked = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="relayline-fanout")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def subscribe(self, outbox: Outbox, job_id: str, after: int) -> None:
        """Send `outbox` every event of `job_id` after seq `after`, then the live ones."""
        subscription = _Subscription()
        outbox.subscriptions[job_id] = subscription
        watch = self.watches.get(job_id)
        creator = watch is None
        if watch is None:
            watch = self.watches[job_id] = _Watch(position=None)
        watch.outboxes.add(outbox)
        last, ended = after, False
        try:
            last, ended = await self._catch_up(outbox, job_id, after)
        finally:
            if creator and watch.position is None:
                watch.position = last
                self._wake()
        if ended:
            self._forget(outbox, job_id)
            return
        while subscription.pending:
            seq, data = subscription.pending.popleft()
            await outbox.queue.put((job_id, seq, data))
        subscription.live = True

    def unsubscribe(self, outbox: Outbox, job_id: str) -> None:
        outbox.subscriptions.pop(job_id, None)
        self._forget(outbox, job_id)

    def drop(self, outbox: Outbox) -> None:
        for job_id in list(outbox.subscriptions):
            self.unsubscribe(outbox, job_id)

    def _forget(self, outbox: Outbox, job_id: str) -> None:
        watch = self.watches.get(job_id)
        if watch is not None:
            watch.outboxes.discard(outbox)
            if not watch.outboxes:
                del self.watches[job_id]

    async def _catch_up(self, outbox: Outbox, job_id: str, after: int) -> tuple[int, bool]:
        stream = self.keys.events(job_id)
        last, ended = after, False
        while not ended:
            entries = cast(
                list[tuple[str, dict[str, str]]],
                await self.redis.xrange(stream, f"(0-{last}", "+", count=CATCH_UP_PAGE),
            )
            for entry_id, fields in entries:
                last, data = seq_of_entry_id(entry_id), fields[EVENT_FIELD]
                await outbox.queue.put((job_id, last, data))
                ended = ended or is_end(data)
            if len(entries) < CATCH_UP_PAGE:
                break
        return last, ended

    def _wake(self) -> None:
        self._changed.set()
        if self._blocked and self._reader_id is not None:
            task = asyncio.create_task(self._unblock(self._reader_id))
            task.add_done_callback(lambda done: done.exception())

    async def _unblock(self, client_id: int) -> None:
        await self.redis.client_unblock(client_id)

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                self._reader_id = int(await self.reader.client_id())
                await self._follow()
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("fan-out reader lost Redis (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("fan-out reader failed; restarting")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                backoff = 0.1

    async def _follow(self) -> None:
        prefix_length = len(self.keys.events(""))
        while True:
            streams: dict[Any, Any] = {
                self.keys.events(job_id): f"0-{watch.position}"
                for job_id, watch in self.watches.items()
                if watch.position is not None
            }
            if not streams:
                self._changed.clear()
                await self._changed.wait()
                continue
            self._changed.clear()
            self._blocked = True
            try:
                response = cast(
                    list[tuple[str, list[tuple[str, dict[str, str]]]]] | None,
                    await self.reader.xread(streams, count=READ_COUNT, block=self.block_ms),
                )
            finally:
                self._blocked = False
            if response:
                FANOUT_READS.inc()
            for stream, entries in response or ():
                self._dispatch(stream[prefix_length:], entries)

    def _dispatch(self, job_id: str, entries: list[tuple[str, dict[str, str]]]) -> None:
        watch = self.watches.get(job_id)
        if watch is None or watch.position is None:
            return
        for entry_id, fields in entries:
            seq = seq_of_entry_id(entry_id)
            if seq <= watch.position:
                continue
            watch.position = seq
            data = fields[EVENT_FIELD]
            for outbox in list(watch.outboxes):
                outbox.deliver(job_id, seq, data)
            if is_end(data):
                del self.watches[job_id]
                return
