"""The reaper: takes over jobs whose worker died, and dead-letters jobs that keep killing
their workers.

Every `reaper_interval_seconds` each worker claims (`XAUTOCLAIM`, a cursor per shard stream)
entries of its pool that have been idle longer than the lease: their worker stopped renewing
it, or handed them back as it stopped. It claims only under slots it took first (the slots its
shard readers draw on too: concurrency is per process), one entry per slot: the slots free as
it begins, or, when every slot is busy and such an entry waits, the next slot to free, ahead
of the readers (so a backlog does not keep a dead worker's job waiting). A claimed job runs
again here as a new attempt (its clients get `job-reset`; the old attempt's writes are
fenced out). An entry this worker itself runs, whose renewal lapsed while Redis could not be
reached, is left to the run it has (the claim undone, its delivery not counted). An entry
delivered more than `max_deliveries` times goes to its shard's
dead-letter stream instead, and its job ends `failed` with `dead_lettered`: one script
(`EventLog.dead_letter`) moves the entry, acknowledges it and ends the job, as the job and
both streams share the shard's slot.
After each pass the reaper trims every shard stream below its oldest pending entry, so
acknowledged jobs do not pile up.
"""

import asyncio
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.errors import ErrorCode, ErrorDetail
from contracts.eventlog import EventLog, JobRef
from contracts.events import JobEnd
from contracts.jobs import JobEnvelope, JobStatus
from contracts.keys import GROUP, Keys
from contracts.log import ENVELOPE_FIELD
from worker.leases import Entry, Leases, RunEntry, deliveries
from worker.slots import Slots

log = logging.getLogger("relayline.worker")

CLAIM_BATCH = 4
"""The most entries one `XAUTOCLAIM` takes."""


class Reaper:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        pool: str,
        consumer: str,
        run_entry: RunEntry,
        *,
        slots: Slots,
        leases: Leases,
        lease_seconds: float,
        max_deliveries: int,
        retention_seconds: int,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.pool = pool
        self.streams = keys.job_streams(pool)
        self.consumer = consumer
        self.run_entry = run_entry
        self.slots = slots
        self.leases = leases
        self.lease_ms = int(lease_seconds * 1000)
        self.max_deliveries = max_deliveries
        self.tasks: set[asyncio.Task[None]] = set()
        self.log = EventLog(redis, keys, retention_seconds)
        self._cursors = dict.fromkeys(self.streams, "0-0")

    async def sweep(self) -> int:
        """One pass over every shard stream, under the slots free as it begins (a slot it
        gave back between two streams would go to a waiting reader at once); returns how
        many entries it claimed."""
        claimed, room = 0, [self._reserve()]
        if not room[0] and await self._overdue():  # every slot busy, a dead worker's job waits
            await self.slots.take_first()
            room[0] = 1 + self._reserve()
        try:
            for shard, stream in enumerate(self.streams):
                if not room[0]:
                    break
                claimed += await self._sweep_stream(shard, stream, room)
        finally:
            for _ in range(room[0]):
                self.slots.release()
        return claimed

    async def _overdue(self) -> bool:
        """Whether a shard stream holds an entry idle past the lease (to claim)."""
        for stream in self.streams:
            if await self.redis.xpending_range(
                stream, GROUP, min="-", max="+", count=1, idle=self.lease_ms
            ):
                return True
        return False

    def _reserve(self) -> int:
        """Take every free slot, up to `CLAIM_BATCH`: the reaper claims no more entries than
        it has taken slots for, so it never holds a job it cannot start."""
        room = 0
        while room < CLAIM_BATCH and self.slots.try_take():
            room += 1
        return room

    async def _sweep_stream(self, shard: int, stream: str, room: list[int]) -> int:
        """Claim up to `room[0]` entries of one stream, each run under one of the slots the
        caller took (`room[0]` counts those left: each job's task releases its own); how
        many it claimed."""
        reply = await self.redis.xautoclaim(
            stream, GROUP, self.consumer, self.lease_ms, self._cursors[stream], count=room[0]
        )
        # Redis 6.2 answers [cursor, entries]; 7.x adds the ids of deleted entries.
        cursor, entries = reply[0], reply[1]
        self._cursors[stream] = cursor if isinstance(cursor, str) else cursor.decode()
        for message_id, fields in entries:
            if not fields:  # deleted while pending: nothing to run
                await self.redis.xack(stream, GROUP, message_id)
            elif await self._take(shard, Entry(stream, message_id), fields):
                room[0] -= 1
        return len(entries)

    async def _take(self, shard: int, entry: Entry, fields: dict[str, str]) -> bool:
        """Run a claimed entry under a slot taken for it (True); or dead-letter it, or keep
        running it where it runs already, if that is here (False: the slot stays free)."""
        envelope = JobEnvelope.model_validate_json(fields[ENVELOPE_FIELD])
        delivered = await deliveries(self.redis, entry)
        if self.leases.holds(entry):
            # Ours, running: only its renewal lapsed (Redis unreachable past the lease, a
            # failover). A second run here would fence the first and leave the entry to lapse
            # again as the first ends; the claim is undone instead, and its delivery uncounted.
            await self.leases.keep(entry, delivered)
            log.info("job %s: kept, still running here after its lease lapsed", envelope.id)
            return False
        if delivered > self.max_deliveries:
            await self._dead_letter(shard, entry, envelope, delivered)
            return False
        log.warning("reclaimed job %s (delivery %d)", envelope.id, delivered)
        task = asyncio.create_task(self._run(entry, envelope))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return True

    async def _run(self, entry: Entry, envelope: JobEnvelope) -> None:
        try:
            await self.run_entry(entry, envelope)
        finally:
            self.slots.release()

    async def _dead_letter(
        self, shard: int, entry: Entry, envelope: JobEnvelope, delivered: int
    ) -> None:
        reason = f"its worker stopped {delivered - 1} times while running it"
        log.error("dead-lettering job %s: %s", envelope.id, reason)
        dead = self.keys.dead(self.pool, shard)
        error = ErrorDetail(
            code=ErrorCode.dead_lettered,
            message=f"the job was not run again: {reason}; see {dead}",
        )
        end = JobEnd(
            job_id=envelope.id, seq=1, ts=time.time(), status=JobStatus.failed, error=error
        )
        await self.log.dead_letter(
            JobRef(envelope.id, self.pool, envelope.owner),
            end,
            entry_id=entry.id,
            deliveries=delivered,
            reason=reason,
            envelope=envelope.model_dump_json(),
        )

    async def trim(self) -> None:
        """Drop acknowledged entries of every shard stream."""
        for stream in self.streams:
            await self._trim(stream)

    async def _trim(self, stream: str) -> None:
        """Drop everything older than both the oldest pending entry and the group's last
        delivered one."""
        groups: list[dict[str, Any]] = await self.redis.xinfo_groups(stream)
        group = next((g for g in groups if g["name"] == GROUP), None)
        if group is None:
            return
        bound = str(group["last-delivered-id"])
        summary = await self.redis.xpending(stream, GROUP)
        if summary["pending"]:
            bound = min(bound, str(summary["min"]), key=_entry_order)
        else:
            milliseconds, _, sequence = bound.partition("-")
            bound = f"{milliseconds}-{int(sequence) + 1}"
        await self.redis.xtrim(stream, minid=bound)

    async def run_forever(self, interval: float) -> None:
        failures = 0
        while True:
            try:
                while await self.sweep():
                    pass
                await self.trim()
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
