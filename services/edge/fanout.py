"""Fan-out: in each edge process, one reader per shard that has watched jobs follows the
event logs its clients watch.

    shard 0: rl:{t0}:events:<id>… + rl:{t0}:wake:<edge> ──XREAD──► reader 0 ──┐
    shard 3: rl:{t3}:events:<id>… + rl:{t3}:wake:<edge> ──XREAD──► reader 3 ──┤
    (a blocking XREAD per shard with watched jobs; none for the others)       │
                                                      deliver(job, seq, json) │
                 ┌────────────────────────────────────────────────────────────┤
               Outbox (a WebSocket)                        Outbox (an SSE stream) …
                 │ bounded in events and bytes; full ⇒ the client is cut off
                 ▼
               sender task ──► socket

One Redis read serves an event to every local client, however many watch it. The shared
read position of a job (its `Watch`) is only ever a seq the reader or `XREVRANGE` found in
the log, never one a client stated. A client that subscribes after seq `k` is caught up by
`XRANGE` of its own (in pages, with backpressure), while live events for it wait in its
subscription; then it goes live. The sender drops any seq it has already sent, so the
overlap between catch-up and live is exact. Each subscription runs in a task of its own,
cancelled by unsubscribe; a Redis error of one subscription ends that subscription only.

A job's logs live in its shard's hash slot, so each shard has its own reader (edge.reader),
with a blocking connection of its own from `reader_for` (on a Cluster, to the node owning
the slot). A log joining a blocked read wakes it through the shard's wake stream
(edge.shards); a shard whose last watch goes has no reader and holds no connection.
"""

import asyncio
import logging
from functools import partial
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from contracts.jobs import MAX_SAFE_INTEGER
from contracts.keys import Keys, seq_of_entry_id
from contracts.log import EVENT_FIELD
from edge import records
from edge.outbox import LOST, STARTS, Item, Outbox, Subscription
from edge.reader import Reader, is_end, retrying
from edge.shards import ReaderFor, Watch
from edge.watch_errors import log_gone, read_failed

__all__ = ["LOST", "STARTS", "Hub", "Item", "Outbox", "is_end"]

log = logging.getLogger("relayline.fanout")

CATCH_UP_PAGE = 500


class Hub(Reader):
    """`redis` serves every short command (catch-ups, records, wakes); each shard's blocking
    reads go to `reader_for(key of the shard)` (see `edge.shards.ReaderFor`), which must
    decode responses, like `redis`. Neither is closed by the hub."""

    def __init__(self, redis: Redis, reader_for: ReaderFor, keys: Keys, block_ms: int) -> None:
        super().__init__(redis, reader_for, keys, block_ms)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Nothing to start: a shard's reader starts with the first log it reads."""

    async def stop(self) -> None:
        """Cancel every reader, wake and subscription task (a cancelled blocking read closes
        its connection)."""
        tasks = [shard.task for shard in self.shards.values() if shard.task] + list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def subscribe(
        self, outbox: Outbox, job_id: str, after: int, *, created: bool = False
    ) -> "asyncio.Task[None] | None":
        """Send `outbox` every event of `job_id` after seq `after`, then the live ones. The
        catch-up runs in a task of its own, cancelled by `unsubscribe` (returned).

        `created`: this edge has just made the job (`edge.jobs.Submission`). Followed from
        its start (`after` 0) by no one else here, its log is read live from its first
        entry: no tail read, no catch-up, no task (two round trips and two tasks fewer for
        a WebSocket's submit). A log lost meanwhile is found as any followed log's is, by
        the reader's check after an outage (`Reader._verify`)."""
        if not 0 <= after <= MAX_SAFE_INTEGER:
            raise ValueError(f"after must be in 0..{MAX_SAFE_INTEGER}")
        self.unsubscribe(outbox, job_id)
        subscription = outbox.subscriptions[job_id] = Subscription()
        watch = self.watches.get(job_id)
        if watch is None and created and after == 0:
            watch = self.watches[job_id] = Watch(position=0)
            watch.outboxes.add(outbox)
            subscription.live = True
            self._read_live(job_id, watch)
            return None
        if watch is None:
            watch = self.watches[job_id] = Watch()
            watch.started = self._spawn(self._start(job_id, watch))
        watch.outboxes.add(outbox)
        subscription.task = self._spawn(self._join(outbox, job_id, after, subscription, watch))
        return subscription.task

    def unsubscribe(self, outbox: Outbox, job_id: str) -> None:
        subscription = outbox.subscriptions.pop(job_id, None)
        if subscription is not None and subscription.task is not None:
            subscription.task.cancel()
        self._forget(outbox, job_id)

    def drop(self, outbox: Outbox) -> None:
        for job_id in list(outbox.subscriptions):
            self.unsubscribe(outbox, job_id)

    def _spawn(self, coroutine: "asyncio._CoroutineLike[None]") -> "asyncio.Task[None]":
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a fan-out task failed", exc_info=task.exception())

    def _forget(self, outbox: Outbox, job_id: str) -> None:
        watch = self.watches.get(job_id)
        if watch is not None:
            watch.outboxes.discard(outbox)
            if not watch.outboxes:
                self._remove(job_id, watch)

    def _remove(self, job_id: str, watch: Watch) -> None:
        if self.watches.get(job_id) is watch:
            del self.watches[job_id]
        if watch.started is not None and watch.started is not asyncio.current_task():
            watch.started.cancel()

    def _fail(self, job_id: str, outboxes: list[Outbox], error: str) -> None:
        for outbox in outboxes:
            outbox.fail(job_id, error)
            self._forget(outbox, job_id)
            outbox.subscriptions.pop(job_id, None)

    async def _start(self, job_id: str, watch: Watch) -> None:
        """Where the reader starts following a job: the last entry of its log now. An empty
        log expired (or was lost with Redis): every subscriber is told at once."""
        stream = self.keys.events(job_id)
        try:
            tail = cast(
                list[tuple[str, dict[str, str]]],
                await retrying(lambda: self.redis.xrevrange(stream, "+", "-", count=1)),
            )
            if not tail:
                error = await self._gone(job_id)  # then every subscriber, those who joined since
                self._fail(job_id, list(watch.outboxes), error)
                self._remove(job_id, watch)
                return
        except ResponseError as exc:
            self._fail(job_id, list(watch.outboxes), read_failed(job_id, exc))
            self._remove(job_id, watch)
            return
        entry_id, fields = tail[0]
        if not is_end(fields[EVENT_FIELD]):  # an ended log has nothing more to read live
            watch.position = seq_of_entry_id(entry_id)
            self._read_live(job_id, watch)

    async def _gone(self, job_id: str) -> str:
        """The error for a job whose log is empty, with its record when it ended: its output
        (up to 16 MiB) read apart and spliced in unparsed, as `GET /v1/jobs/{id}` does."""
        key = self.keys.job(job_id)

        async def read() -> list[Any]:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hmget(key, list(records.FIELDS))
                pipe.hget(key, records.OUTPUT)
                return await pipe.execute()

        values, output = await retrying(read)
        return log_gone(job_id, records.present(values), output)

    async def _join(
        self, outbox: Outbox, job_id: str, after: int, subscription: Subscription, watch: Watch
    ) -> None:
        if watch.started is not None:  # catch-up starts once the tail is known
            await asyncio.wait({watch.started})  # neither cancels it nor raises its error
        if outbox.subscriptions.get(job_id) is not subscription:
            return  # the log was gone: the subscriber was told
        try:
            ended = await self._catch_up(outbox, job_id, after, subscription)
            if ended is None:  # unsubscribed, or subscribed again: that one goes on
                return
        except ResponseError as exc:  # this subscription's read was refused: end it alone
            self._fail(job_id, [outbox], read_failed(job_id, exc))
            return
        if ended:
            self._forget(outbox, job_id)
            return
        while subscription.pending:
            seq, data = subscription.pending.popleft()
            subscription.pending_bytes -= len(data)
            if not await outbox.put((job_id, seq, data), subscription):
                return
        subscription.live = True

    async def _catch_up(
        self, outbox: Outbox, job_id: str, after: int, subscription: Subscription
    ) -> bool | None:
        """Queue the job's events after `after`: whether its end was among them; None when
        the subscription ended meanwhile (its events are no longer queued)."""
        stream = self.keys.events(job_id)
        last = after
        while True:
            read = partial(self.redis.xrange, stream, f"(0-{last}", "+", count=CATCH_UP_PAGE)
            entries = cast(list[tuple[str, dict[str, str]]], await retrying(read))
            for entry_id, fields in entries:
                last, data = seq_of_entry_id(entry_id), fields[EVENT_FIELD]
                if is_end(data):
                    data = await self.ends.complete(job_id, data)
                    return True if await outbox.put((job_id, last, data), subscription) else None
                if not await outbox.put((job_id, last, data), subscription):
                    return None
            if len(entries) < CATCH_UP_PAGE:
                return False
