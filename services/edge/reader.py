"""The fan-out's reader: ONE blocking `XREAD` per edge process over every followed log.

`Hub` (edge.fanout) manages subscriptions; this half reads. A refused read never stops it:
the logs Redis refuses are found and only their subscriptions end (`_isolate`).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from contracts.keys import Keys, seq_of_entry_id
from contracts.log import EVENT_FIELD
from edge.ends import EndCache
from edge.metrics import FANOUT_READS
from edge.outbox import Outbox
from edge.watch_errors import log_gone, read_failed

log = logging.getLogger("relayline.fanout")

READ_COUNT = 1000
END_MARKER = '"type":"job-end"'
T = TypeVar("T")


def is_end(data: str) -> bool:
    return END_MARKER in data


async def retrying(call: Callable[[], Awaitable[T]]) -> T:
    """Waits out Redis restarting (connection errors); a refusal (`ResponseError`) is raised.
    Whoever awaits this is cancelled when its client goes."""
    backoff = 0.05
    while True:
        try:
            return await call()
        except ResponseError:
            raise
        except (RedisError, OSError) as exc:
            log.info("fan-out waits for Redis (%s)", exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)


@dataclass(eq=False)
class Watch:
    """One job followed by the reader for this edge's subscribers."""

    outboxes: set[Outbox] = field(default_factory=set)
    position: int | None = None  # None: not (or no longer) read live
    started: "asyncio.Task[None] | None" = None


class Reader:
    def __init__(self, redis: Redis, reader: Redis, keys: Keys, block_ms: int) -> None:
        self.redis = redis
        self.reader = reader
        self.keys = keys
        self.block_ms = block_ms
        self.watches: dict[str, Watch] = {}
        self.ends = EndCache(redis, keys, retrying)
        self._changed = asyncio.Event()
        self._version = 0  # raised by every change of the watches
        self._read_version = 0  # the version the reader's current XREAD was built from
        self._waker: asyncio.Task[None] | None = None
        self._reader_id: int | None = None
        self._blocked = False

    def _fail(self, job_id: str, outboxes: list[Outbox], error: str) -> None:
        raise NotImplementedError

    def _remove(self, job_id: str, watch: Watch) -> None:
        raise NotImplementedError

    def _spawn(self, coroutine: "asyncio._CoroutineLike[None]") -> "asyncio.Task[None]":
        raise NotImplementedError

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
            except ResponseError as exc:
                # Redis refused the read: find the log(s) it refuses and end only their
                # subscriptions; the reader goes on with every other job.
                log.error("fan-out read refused (%s); isolating the failing logs", exc)
                await self._isolate()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
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

    async def _isolate(self) -> None:
        """Read each followed log alone; the ones Redis refuses are dropped with an error."""
        for job_id, watch in list(self.watches.items()):
            if watch.position is None:
                continue
            try:
                await self.redis.xread({self.keys.events(job_id): f"0-{watch.position}"}, count=1)
            except ResponseError as exc:
                self._fail(job_id, list(watch.outboxes), read_failed(job_id, exc))
                self._remove(job_id, watch)
            except (RedisError, OSError):
                return

    async def _verify(self) -> None:
        """After an outage: a job whose record is gone (Redis restarted without persistence)
        will never write again, so its watchers are told instead of waiting forever."""
        job_ids = list(self.watches)
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(self.keys.job(job_id))
            found = await pipe.execute()
        for job_id, exists in zip(job_ids, found, strict=True):
            watch = self.watches.get(job_id)
            if not exists and watch is not None:
                self._fail(job_id, list(watch.outboxes), log_gone(job_id, {}))
                self._remove(job_id, watch)

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
            if is_end(data):
                del self.watches[job_id]
                self._spawn(self._deliver_end(job_id, seq, data, list(watch.outboxes)))
                return
            for outbox in list(watch.outboxes):
                outbox.deliver(job_id, seq, data)

    async def _deliver_end(self, job_id: str, seq: int, data: str, outboxes: list[Outbox]) -> None:
        """`job-end` gets its output from the record (one read, shared), off the reader."""
        try:
            complete = await self.ends.complete(job_id, data)
        except ResponseError as exc:
            self._fail(job_id, outboxes, read_failed(job_id, exc))
            return
        for outbox in outboxes:
            outbox.deliver(job_id, seq, complete)
