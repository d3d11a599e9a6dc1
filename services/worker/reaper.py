"""The reaper: takes over jobs whose worker died, and dead-letters jobs that keep killing
their workers.

Every `reaper_interval_seconds` each worker claims (`XAUTOCLAIM`) entries of its pool that
have been idle longer than the lease: their worker stopped renewing it. A claimed job runs
again here as a new attempt (its clients get `job-reset`; the old attempt's writes are fenced
out). An entry delivered more than `max_deliveries` times goes to `rl:dead:{pool}` instead,
and its job ends `failed` with `dead_lettered`. The reaper also trims the job stream below
its oldest pending entry, so acknowledged jobs do not pile up.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.errors import ErrorCode, ErrorDetail
from contracts.eventlog import EventLog, JobRef
from contracts.events import JobEnd
from contracts.jobs import JobEnvelope, JobStatus
from contracts.keys import GROUP, Keys
from contracts.log import ENVELOPE_FIELD
from worker.leases import deliveries

log = logging.getLogger("relayline.worker")

RunClaimed = Callable[[str, JobEnvelope], Awaitable[None]]


class Reaper:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        pool: str,
        consumer: str,
        run_claimed: RunClaimed,
        *,
        lease_seconds: float,
        max_deliveries: int,
        retention_seconds: int,
        slots: int,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.pool = pool
        self.stream = keys.jobs(pool)
        self.consumer = consumer
        self.run_claimed = run_claimed
        self.lease_ms = int(lease_seconds * 1000)
        self.max_deliveries = max_deliveries
        self.slots = asyncio.Semaphore(slots)
        self.tasks: set[asyncio.Task[None]] = set()
        self.log = EventLog(redis, keys, retention_seconds)
        self._cursor = "0-0"

    async def sweep(self) -> int:
        """One pass; returns how many entries it claimed."""
        if self.slots.locked():
            return 0
        reply = await self.redis.xautoclaim(
            self.stream, GROUP, self.consumer, self.lease_ms, self._cursor, count=4
        )
        # Redis 6.2 answers [cursor, entries]; 7.x adds the ids of deleted entries.
        cursor, entries = reply[0], reply[1]
        self._cursor = cursor if isinstance(cursor, str) else cursor.decode()
        for message_id, fields in entries:
            if not fields:  # deleted while pending: nothing to run
                await self.redis.xack(self.stream, GROUP, message_id)
                continue
            await self._take(message_id, fields)
        await self._trim()
        return len(entries)

    async def _take(self, message_id: str, fields: dict[str, str]) -> None:
        envelope = JobEnvelope.model_validate_json(fields[ENVELOPE_FIELD])
        delivered = await deliveries(self.redis, self.stream, message_id)
        if delivered > self.max_deliveries:
            await self._dead_letter(message_id, envelope, delivered)
            return
        log.warning("reclaimed job %s (delivery %d)", envelope.id, delivered)
        await self.slots.acquire()
        task = asyncio.create_task(self._run(message_id, envelope))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, message_id: str, envelope: JobEnvelope) -> None:
        try:
            await self.run_claimed(message_id, envelope)
        finally:
            self.slots.release()

    async def _dead_letter(self, message_id: str, envelope: JobEnvelope, delivered: int) -> None:
        reason = f"its worker stopped {delivered - 1} times while running it"
        log.error("dead-lettering job %s: %s", envelope.id, reason)
        error = ErrorDetail(
            code=ErrorCode.dead_lettered,
            message=f"the job was not run again: {reason}; see {self.keys.dead(self.pool)}",
        )
        end = JobEnd(
            job_id=envelope.id, seq=1, ts=time.time(), status=JobStatus.failed, error=error
        )
        # The job ends first: a crash before the acknowledgement only makes the next sweep
        # dead-letter it again (ABANDON leaves an ended job alone), never a job that hangs.
        await self.log.abandon(JobRef(envelope.id, self.pool, envelope.owner), end)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self.keys.dead(self.pool),
                {
                    "job_id": envelope.id,
                    "message_id": message_id,
                    "deliveries": delivered,
                    "reason": reason,
                    ENVELOPE_FIELD: envelope.model_dump_json(),
                },
            )
            pipe.xack(self.stream, GROUP, message_id)
            await pipe.execute()

    async def _trim(self) -> None:
        """Drop acknowledged entries: everything older than both the oldest pending entry and
        the group's last delivered one."""
        groups: list[dict[str, Any]] = await self.redis.xinfo_groups(self.stream)
        group = next((g for g in groups if g["name"] == GROUP), None)
        if group is None:
            return
        bound = str(group["last-delivered-id"])
        summary = await self.redis.xpending(self.stream, GROUP)
        if summary["pending"]:
            bound = min(bound, str(summary["min"]), key=_entry_order)
        else:
            milliseconds, _, sequence = bound.partition("-")
            bound = f"{milliseconds}-{int(sequence) + 1}"
        await self.redis.xtrim(self.stream, minid=bound)

    async def run_forever(self, interval: float) -> None:
        failures = 0
        while True:
            try:
                while await self.sweep():
                    pass
                failures = 0
            except RedisError as exc:
                failures += 1
                if failures == 1 or failures % 30 == 0:  # bounded log rate during an outage
                    log.warning("reaper cannot reach Redis (%s); %d failures", exc, failures)
            except Exception:
                log.exception("reaper sweep failed")
            await asyncio.sleep(interval)


def _entry_order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)
