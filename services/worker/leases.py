"""Leases: which job-stream entries this worker is running, kept alive and handed back.

A running job's entry stays pending in the consumer group. Every heartbeat resets its idle
time (`XCLAIM … JUSTID` to ourselves), so the reaper of another worker leaves it alone while
this one lives. A worker that stops or pauses stops renewing, and after `lease_seconds` its
jobs are reclaimed. On shutdown a job that cannot finish in time is handed back at once: its
idle time is set past the lease (its delivery count kept), so another worker's reaper takes it
at its next sweep instead of waiting for the lease.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from contracts.keys import GROUP

log = logging.getLogger("relayline.worker")


async def deliveries(redis: Redis, stream: str, message_id: str) -> int:
    """How many times the group delivered one pending entry (1 if it is not pending)."""
    pending = await redis.xpending_range(stream, GROUP, min=message_id, max=message_id, count=1)
    return int(pending[0]["times_delivered"]) if pending else 1


@dataclass
class _Lease:
    job_id: str
    task: asyncio.Task[object] | None


class Leases:
    def __init__(self, redis: Redis, stream: str, consumer: str, lease_seconds: float) -> None:
        self.redis = redis
        self.stream = stream
        self.consumer = consumer
        self.lease_ms = int(lease_seconds * 1000)
        self.held: dict[str, _Lease] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def hold(self, message_id: str, job_id: str) -> None:
        self.held[message_id] = _Lease(job_id, asyncio.current_task())
        self._idle.clear()

    def release(self, message_id: str) -> None:
        self.held.pop(message_id, None)
        if not self.held:
            self._idle.set()

    async def _wait_idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._idle.wait()

    async def renew(self) -> None:
        if self.held:
            await self.redis.xclaim(
                self.stream, GROUP, self.consumer, 0, list(self.held), justid=True
            )

    async def hand_back(self, message_id: str) -> None:
        """Make one entry claimable by other workers right away, without counting it as one
        more delivery."""
        delivered = await deliveries(self.redis, self.stream, message_id)
        await self.redis.xclaim(
            self.stream,
            GROUP,
            self.consumer,
            0,
            [message_id],
            idle=self.lease_ms * 10,
            retrycount=max(delivered - 1, 0),
            justid=True,
        )
        log.info("handed back %s", self.held.get(message_id, _Lease(message_id, None)).job_id)

    async def drain(self, grace_seconds: float) -> None:
        """Wait up to `grace_seconds` for running jobs, then cancel and hand back the rest."""
        await self._wait_idle(grace_seconds)
        for message_id, lease in list(self.held.items()):
            if lease.task is not None:
                lease.task.cancel()  # the handler hands its entry back as it unwinds
            else:
                await self.hand_back(message_id)
        await self._wait_idle(5)
