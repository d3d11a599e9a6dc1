"""Leases: which job-stream entries this worker is running, kept alive and handed back.

A pool has one job stream per shard, so an entry is named by its stream and its id (`Entry`).
A running job's entry stays pending in the stream's consumer group. Every heartbeat resets its
idle time (`XCLAIM … JUSTID` to ourselves, one call per stream), so the reaper of another
worker leaves it alone while this one lives. A worker that stops or pauses stops renewing, and
after `lease_seconds` its jobs are reclaimed. On shutdown a job that cannot finish in time
(or one delivered as the worker began draining) is handed back at once: its idle time is set
past the lease (its delivery count kept), so the reaper of any worker with room takes it at
its next sweep instead of waiting for the lease.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.eventlog import Started
from contracts.jobs import JobEnvelope
from contracts.keys import GROUP

log = logging.getLogger("relayline.worker")


class Entry(NamedTuple):
    """One job-stream entry: the shard stream that holds it and its id there."""

    stream: str
    id: str


class RunEntry(Protocol):
    """What runs a delivered job to its end, acknowledging its entry as needed
    (`Worker.run_entry`); `started`: the attempt its take already began."""

    def __call__(
        self, entry: Entry, envelope: JobEnvelope, started: Started | None = None
    ) -> Awaitable[None]: ...


async def deliveries(redis: Redis, entry: Entry) -> int:
    """How many times the group delivered one pending entry (1 if it is not pending)."""
    pending = await redis.xpending_range(entry.stream, GROUP, min=entry.id, max=entry.id, count=1)
    return int(pending[0]["times_delivered"]) if pending else 1


@dataclass
class _Lease:
    job_id: str
    task: asyncio.Task[object] | None


class Leases:
    def __init__(self, redis: Redis, consumer: str, lease_seconds: float) -> None:
        self.redis = redis
        self.consumer = consumer
        self.lease_ms = int(lease_seconds * 1000)
        self.held: dict[Entry, _Lease] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def hold(self, entry: Entry, job_id: str) -> None:
        self.held[entry] = _Lease(job_id, asyncio.current_task())
        self._idle.clear()

    def release(self, entry: Entry) -> None:
        """The calling task's run of `entry` ended. A lease another task holds now stays:
        that task runs the entry, and its lease must go on being renewed."""
        lease = self.held.get(entry)
        if lease is not None and lease.task is asyncio.current_task():
            del self.held[entry]
        if not self.held:
            self._idle.set()

    def holds(self, entry: Entry) -> bool:
        """Whether this worker runs `entry`."""
        return entry in self.held

    async def _wait_idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._idle.wait()

    async def renew(self) -> None:
        """Reset the idle time of every entry held, stream by stream: a stream that cannot
        be reached (its master in failover) does not stop the others'; its error is raised
        once every stream was tried."""
        by_stream: defaultdict[str, list[str]] = defaultdict(list)
        for entry in list(self.held):
            by_stream[entry.stream].append(entry.id)
        failure: Exception | None = None
        for stream, ids in by_stream.items():
            try:
                await self.redis.xclaim(stream, GROUP, self.consumer, 0, list(ids), justid=True)
            except (RedisError, OSError) as exc:
                failure = exc
        if failure is not None:
            raise failure

    async def keep(self, entry: Entry, delivered: int) -> None:
        """Undo a claim of an entry this worker runs and could not renew for a while (its
        Redis unreachable past the lease): its delivery count goes back to `delivered - 1`,
        the delivery before the claim."""
        await self._uncount(entry, delivered)

    async def hand_back(self, entry: Entry) -> None:
        """Make one entry claimable by other workers right away, without counting it as one
        more delivery."""
        await self._uncount(entry, await deliveries(self.redis, entry), idle=self.lease_ms * 10)
        lease = self.held.get(entry)
        log.info("handed back %s", lease.job_id if lease else f"{entry.stream} {entry.id}")

    async def _uncount(self, entry: Entry, delivered: int, idle: int | None = None) -> None:
        """Claim `entry` to this worker with its delivery count one below `delivered` (the
        claim that counted it was not a delivery), idle for `idle` ms if given."""
        await self.redis.xclaim(
            entry.stream,
            GROUP,
            self.consumer,
            0,
            [entry.id],
            idle=idle,
            retrycount=max(delivered - 1, 0),
            justid=True,
        )

    async def drain(self, grace_seconds: float) -> None:
        """Wait up to `grace_seconds` for running jobs, then cancel and hand back the rest."""
        await self._wait_idle(grace_seconds)
        for entry, lease in list(self.held.items()):
            if lease.task is not None:
                lease.task.cancel()  # the handler hands its entry back as it unwinds
            else:
                await self.hand_back(entry)
        await self._wait_idle(5)
