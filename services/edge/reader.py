"""The fan-out's readers: one blocking `XREAD` per shard that has watched jobs, in each edge
process, over the shard's followed logs and this edge's wake stream of the shard.

`Hub` (edge.fanout) manages subscriptions; this half reads. The logs of one shard share a
hash slot, so each read is one command on one Redis Cluster node, and "one Redis read per
event per edge" holds per shard. A shard's reader starts when its first log joins the read
and ends when its last watch goes; a log joining a running reader wakes it (edge.shards). A
refused read never stops a reader: the logs Redis refuses are found and only their
subscriptions end (`_isolate`).
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.exceptions import (
    AskError,
    ClusterDownError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from contracts.keys import Keys, seq_of_entry_id
from contracts.log import EVENT_FIELD
from edge.ends import EndCache
from edge.metrics import FANOUT_READS
from edge.outbox import Outbox
from edge.shards import Outage, ReaderFor, Shard, Watch, send_wake
from edge.watch_errors import log_gone, read_failed
from edge.wsframes import Shared

log = logging.getLogger("relayline.fanout")

READ_COUNT = 1000
END_MARKER = '"type":"job-end"'
MOVING = (AskError, TryAgainError, ClusterDownError)
"""Refusals of a Cluster whose slots are moving (MOVED, ASK, TRYAGAIN, CLUSTERDOWN): waited
out like a lost connection, with the shard's client asked for again, never `_isolate`d."""
T = TypeVar("T")
Response = list[tuple[str, list[tuple[str, dict[str, str]]]]] | None


def is_end(data: str) -> bool:
    return END_MARKER in data


async def retrying(call: Callable[[], Awaitable[T]]) -> T:
    """Waits out Redis restarting (connection errors) and a Cluster's slots moving; any other
    refusal (`ResponseError`) is raised. Whoever awaits this is cancelled when its client goes."""
    backoff = 0.05
    while True:
        try:
            return await call()
        except MOVING as exc:  # a Cluster's failover: waited out
            log.info("fan-out waits for the Cluster (%s)", exc)
        except ResponseError:
            raise
        except (RedisError, OSError) as exc:
            log.info("fan-out waits for Redis (%s)", exc)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 2.0)


class Reader:
    def __init__(self, redis: Redis, reader_for: ReaderFor, keys: Keys, block_ms: int) -> None:
        self.redis = redis
        self.reader_for = reader_for
        self.keys = keys
        self.block_ms = block_ms
        self.edge_id = secrets.token_hex(8)  # names this hub's wake streams
        self.watches: dict[str, Watch] = {}
        self.shards: dict[int, Shard] = {}
        self.ends = EndCache(redis, keys, retrying)
        self._outage = Outage()

    @property
    def reading_shards(self) -> set[int]:
        """The shards whose reader is running."""
        return {number for number, shard in self.shards.items() if shard.task is not None}

    def _fail(self, job_id: str, outboxes: list[Outbox], error: str) -> None:
        raise NotImplementedError

    def _remove(self, job_id: str, watch: Watch) -> None:
        raise NotImplementedError

    def _spawn(self, coroutine: "asyncio._CoroutineLike[None]") -> "asyncio.Task[None]":
        raise NotImplementedError

    def _read_live(self, job_id: str, watch: Watch) -> None:
        """`watch` has its position: it joins its shard's read, starting the shard's reader or
        waking it (once per burst of joins: a wake not yet sent covers the later ones)."""
        number = self.keys.shard_of_job(job_id)
        shard = self.shards.setdefault(number, Shard())
        shard.live[job_id] = watch
        shard.version += 1
        if shard.task is None:
            shard.task = asyncio.create_task(
                self._run(number, shard), name=f"relayline-fanout-{number}"
            )
        elif not shard.wake_pending:
            shard.wake_pending = True
            self._spawn(send_wake(self.redis, self.keys, number, shard, self.edge_id))

    def _positions(self, shard: Shard) -> dict[str, str]:
        """The shard's live jobs, each with the entry id its log is read after; forgets the
        watches the hub dropped."""
        positions = {}
        for job_id, watch in list(shard.live.items()):
            if self.watches.get(job_id) is not watch or watch.position is None:
                del shard.live[job_id]
            else:
                positions[job_id] = f"0-{watch.position}"
        return positions

    async def _run(self, number: int, shard: Shard) -> None:
        """The shard's reader, until no watch of the shard is read live."""
        backoff, failures = 0.1, 0
        try:
            while self._positions(shard):  # no await from here to `finally` once it is empty
                try:
                    if failures:  # through `redis`, which on a Cluster learns where slots moved
                        shard.wake_id = "0-0"  # a new master's clock may run behind
                        await self._verify(number)
                        self._outage.recovered(number, failures)
                    reader = await self.reader_for(self.keys.wake(number, self.edge_id))
                    backoff, failures = 0.1, 0
                    await self._follow(number, shard, reader)
                    continue
                except asyncio.CancelledError:
                    raise
                except MOVING as exc:  # a slot moved: ask for the shard's client again
                    failures += 1
                    self._outage.failed(number, exc)
                except ResponseError as exc:
                    # Redis refused the read: find the log(s) it refuses and end only their
                    # subscriptions; the reader goes on with every other job.
                    log.error("fan-out read refused (%s); isolating the failing logs", exc)
                    await self._isolate(number, shard)
                except (RedisError, OSError) as exc:
                    failures += 1
                    self._outage.failed(number, exc)
                except Exception:
                    failures += 1
                    log.exception("fan-out reader failed; restarting")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        finally:
            if shard.task is asyncio.current_task():
                shard.task = None
            self._outage.discard(number)

    async def _isolate(self, number: int, shard: Shard) -> None:
        """Read each followed log alone; the ones Redis refuses are dropped with an error.
        A wake stream Redis refuses (a key of another type in its place) is deleted: it is
        this edge's alone."""
        wake = self.keys.wake(number, self.edge_id)
        for job_id, position in self._positions(shard).items():
            watch = self.watches.get(job_id)
            if watch is None:
                continue
            try:
                await self.redis.xread({self.keys.events(job_id): position}, count=1)
            except MOVING:
                return
            except ResponseError as exc:
                self._fail(job_id, list(watch.outboxes), read_failed(job_id, exc))
                self._remove(job_id, watch)
            except (RedisError, OSError):
                return
        with contextlib.suppress(RedisError, OSError):
            try:
                await self.redis.xread({wake: shard.wake_id}, count=1)
            except MOVING:
                return
            except ResponseError as exc:
                log.error("the fan-out's wake stream %s was refused (%s); deleting it", wake, exc)
                await self.redis.delete(wake)

    async def _verify(self, number: int) -> None:
        """After an outage: a job whose record is gone (Redis restarted without persistence)
        will never write again, so its watchers are told instead of waiting forever."""
        job_ids = [job_id for job_id in self.watches if self.keys.shard_of_job(job_id) == number]
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(self.keys.job(job_id))
            found = await pipe.execute()
        for job_id, exists in zip(job_ids, found, strict=True):
            watch = self.watches.get(job_id)
            if not exists and watch is not None:
                self._fail(job_id, list(watch.outboxes), log_gone(job_id, {}))
                self._remove(job_id, watch)

    async def _follow(self, number: int, shard: Shard, reader: Redis) -> None:
        """Read the shard's live logs and its wake stream until none is left to read."""
        wake = self.keys.wake(number, self.edge_id)
        logs = self.keys.events_key_prefix(number)  # a log's key: this, then its job's id
        while positions := self._positions(shard):
            streams: dict[Any, Any] = {f"{logs}{job}": at for job, at in positions.items()}
            streams[wake] = shard.wake_id
            shard.read_version = shard.version
            response = cast(
                Response, await reader.xread(streams, count=READ_COUNT, block=self.block_ms)
            )
            events = False
            for stream, entries in response or ():
                if stream == wake:
                    shard.wake_id = entries[-1][0]
                else:
                    events = True
                    self._dispatch(stream[len(logs) :], entries)
            if events:
                FANOUT_READS.inc()

    def _dispatch(self, job_id: str, entries: list[tuple[str, dict[str, str]]]) -> None:
        watch = self.watches.get(job_id)
        if watch is None or watch.position is None:
            return
        for entry_id, fields in entries:
            seq = seq_of_entry_id(entry_id)
            if seq <= watch.position:
                continue
            watch.position = seq
            data = Shared(fields[EVENT_FIELD])  # framed once for every local watcher
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
        shared = Shared(complete)
        for outbox in outboxes:
            outbox.deliver(job_id, seq, shared)
