"""A pool's dead-lettered jobs, as an operator reads and acts on them (`relayline dead`).

A job whose deliveries kept stopping its workers ends `failed` with `dead_lettered`, and its
job stream entry moves to its shard's dead-letter stream (`Keys.dead(pool, shard)`, written by
`EventLog.dead_letter`). Here they are listed, shown, dropped, or replayed: `REPLAY` queues the
job again as a new attempt of the same job, in one step with deleting its dead-letter entry,
so a replay done twice queues it once (`contracts.log.REPLAY`). Its clients, who saw the
dead-letter's `job-end`, see a `job-reset` when the new attempt begins, then its events.
"""

import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from redis.asyncio import Redis

from contracts.jobs import JobEnvelope, Priority
from contracts.keys import Keys
from contracts.log import DROP, REPLAY
from contracts.wire import JOB_ID_PATTERN

ENTRY_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
JOB_ID = re.compile(JOB_ID_PATTERN)


class Replayed(StrEnum):
    queued = "queued"
    gone = "gone"
    """No such dead-letter entry: replayed or dropped already."""
    expired = "expired"
    """The job's record expired: nothing is left to run again."""
    not_failed = "not-failed"
    """The job had ended otherwise before it was dead-lettered."""


@dataclass(frozen=True, slots=True)
class DeadJob:
    """One dead-letter entry."""

    entry_id: str
    shard: int
    job_id: str
    deliveries: int
    reason: str
    envelope: str

    @property
    def dead_at(self) -> float:
        """When it was dead-lettered (unix seconds, from its stream entry id)."""
        return int(self.entry_id.split("-")[0]) / 1000

    def owner_and_model(self) -> tuple[str, str]:
        envelope = JobEnvelope.model_validate_json(self.envelope)
        return envelope.owner, envelope.model


class NotFound(LookupError):
    """No dead-letter entry of the pool has that id (or is that job's)."""


class DeadLetters:
    """The dead-letter streams of one pool, one per shard."""

    def __init__(self, redis: Redis, keys: Keys, pool: str) -> None:
        self.redis, self.keys, self.pool = redis, keys, pool
        self._replay = redis.register_script(REPLAY)
        self._drop = redis.register_script(DROP)

    async def list(self, limit: int = 1000) -> list[DeadJob]:
        """Up to `limit` dead-lettered jobs of every shard, oldest first."""
        jobs: list[DeadJob] = []
        for shard in range(self.keys.shards):
            entries = await self.redis.xrange(self.keys.dead(self.pool, shard), count=limit)
            jobs += [_dead_job(shard, entry_id, fields) for entry_id, fields in entries or []]
        return sorted(jobs, key=lambda job: job.dead_at)[:limit]

    async def find(self, ident: str) -> DeadJob:
        """The entry of a dead-letter entry id, or of a job id (its newest entry)."""
        if JOB_ID.fullmatch(ident):
            shard = self.keys.shard_of_job(ident)
            entries = await self.redis.xrevrange(self.keys.dead(self.pool, shard))
            for entry_id, fields in entries or []:
                if (job := _dead_job(shard, entry_id, fields)).job_id == ident:
                    return job
        elif ENTRY_ID.fullmatch(ident):
            for shard in range(self.keys.shards):
                entries = await self.redis.xrange(self.keys.dead(self.pool, shard), ident, ident)
                if entries:
                    return _dead_job(shard, *entries[0])
        raise NotFound(f"pool {self.pool!r} has no dead-lettered job {ident!r}")

    async def replay(self, job: DeadJob, hold: int) -> Replayed:
        """Queue `job` again as a new attempt (`hold`: its pool's `max_output_bytes`)."""
        keys, shard = self.keys, job.shard
        owner, _ = job.owner_and_model()
        script_keys = [
            keys.job(job.job_id),
            keys.events(job.job_id),
            keys.dead(self.pool, shard),
            *(keys.waiting(self.pool, shard, priority) for priority in Priority),
            *(keys.finish_tags(self.pool, shard, priority) for priority in Priority),
            keys.queue_state(self.pool, shard),
            keys.ready(self.pool, shard),
            keys.user_active(owner),
            keys.user_stored(owner),
        ]
        args: list[str | int] = [job.entry_id, job.job_id, hold, repr(time.time())]
        return Replayed(_text(await self._replay(keys=script_keys, args=args)))

    async def was_replayed(self, job_id: str) -> bool:
        """Whether the job was queued again from a dead-letter entry (`replay`)."""
        if not JOB_ID.fullmatch(job_id):
            return False
        return bool(await self.redis.hexists(self.keys.job(job_id), "replayed"))

    async def drop(self, job: DeadJob) -> bool:
        """Delete the entry (the job stays failed): whether it was there."""
        dead = self.keys.dead(self.pool, job.shard)
        return bool(await self._drop(keys=[dead], args=[job.entry_id]))


def _dead_job(shard: int, entry_id: object, fields: object) -> DeadJob:
    values = {
        _text(name): _text(value) for name, value in cast(dict[object, object], fields).items()
    }
    return DeadJob(
        entry_id=_text(entry_id),
        shard=shard,
        job_id=values.get("job_id", ""),
        deliveries=int(values.get("deliveries", "0") or 0),
        reason=values.get("reason", ""),
        envelope=values.get("__data__", "{}"),
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
