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
from redis.exceptions import RedisError

from contracts.errors import ErrorCode
from contracts.keys import Keys, seq_of_entry_id
from contracts.log import EVENT_FIELD
from contracts.wire import WireError
from edge.metrics import FANOUT_READS

log = logging.getLogger("relayline.fanout")

CATCH_UP_PAGE = 500
READ_COUNT = 1000
END_MARKER = '"type":"job-end"'

Item = tuple[str | None, int, str]
"""(job id, seq, JSON) for an event; (None, 0, JSON) for a control message; (job id, LOST,
error JSON) when a watched job vanished."""
LOST = -1


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

    def lost(self, job_id: str) -> None:
        """The job vanished with its log: send its subscriber a `job_lost` error instead."""
        if job_id not in self.subscriptions:
            return
        error = WireError(
            code=ErrorCode.job_lost,
            message="the job and its events were lost when Redis restarted without "
            "persistence; submit it again",
            job_id=job_id,
        )
        try:
            self.queue.put_nowait((job_id, LOST, error.model_dump_json()))
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
        self._version = 0  # raised by every change of the watches
        self._read_version = 0  # the version the reader's current XREAD was built from
        self._waker: asyncio.Task[None] | None = None
        self._reader_id: int | None = None
        self._blocked = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="relayline-fanout")

    async def stop(self) -> None:
        for task in (self._task, self._waker):
            if task:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

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
            entries = await self._page(stream, last)
            for entry_id, fields in entries:
                last, data = seq_of_entry_id(entry_id), fields[EVENT_FIELD]
                await outbox.queue.put((job_id, last, data))
                ended = ended or is_end(data)
            if len(entries) < CATCH_UP_PAGE:
                break
        return last, ended

    async def _page(self, stream: str, after: int) -> list[tuple[str, dict[str, str]]]:
        """One page of catch-up. Redis restarting is waited out (the subscription is dropped,
        and this cancelled, when its client goes): a catch-up that gave up would leave its
        subscription never going live."""
        backoff = 0.05
        while True:
            try:
                return cast(
                    list[tuple[str, dict[str, str]]],
                    await self.redis.xrange(stream, f"(0-{after}", "+", count=CATCH_UP_PAGE),
                )
            except (RedisError, OSError) as exc:
                log.info("catch-up of %s waits for Redis (%s)", stream, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def _wake(self) -> None:
        self._version += 1
        self._changed.set()
        if self._waker is None or self._waker.done():
            self._waker = asyncio.create_task(self._unblock())
            self._waker.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def _unblock(self) -> None:
        """Interrupt the reader's blocking XREAD until it reads with the latest watches. An
        unblock that reaches Redis before the XREAD blocks does nothing, hence the retries."""
        for _ in range(200):
            if not self._blocked or self._read_version >= self._version:
                return
            if self._reader_id is not None:
                await self.redis.client_unblock(self._reader_id)
            await asyncio.sleep(0.005)

    async def _run(self) -> None:
        backoff, failures = 0.1, 0
        while True:
            try:
                self._reader_id = int(await self.reader.client_id())
                if failures:
                    log.warning("fan-out reader reconnected after %d failures", failures)
                    await self._verify()
                backoff, failures = 0.1, 0
                await self._follow()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                failures += 1
                if failures == 1 or backoff >= 5.0:  # at most one line per 5 s in an outage
                    log.warning("fan-out reader lost Redis (%s); retrying", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                failures += 1
                log.exception("fan-out reader failed; restarting")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _verify(self) -> None:
        """After an outage: a job whose record is gone (Redis restarted without persistence)
        will never write again, so its watchers are told instead of waiting forever."""
        job_ids = list(self.watches)
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(self.keys.job(job_id))
            found = await pipe.execute()
        for job_id, exists in zip(job_ids, found, strict=True):
            watch = None if exists else self.watches.pop(job_id, None)
            for outbox in watch.outboxes if watch else ():
                outbox.lost(job_id)

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
            self._read_version = self._version
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
