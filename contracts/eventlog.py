"""The event log's scripts as typed calls: one method per script of `contracts.log`, with
named arguments. This is the only code that builds a script's key list or argument list (and
so the only place that decides which keys a script touches), for the edge and the workers
alike.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from contracts import log
from contracts.batch import ScriptBatch, run_script
from contracts.durability import NO_WAIT, Durability, committed
from contracts.events import JobEnd, JobQueued, JobReset, JobStart
from contracts.gcra import Bucket, Taken
from contracts.jobs import Priority
from contracts.keys import GROUP, Keys, account
from contracts.log import AppendResult
from contracts.usage import DEFAULT_QUOTA_WINDOW_SECONDS, charge


@dataclass(frozen=True, slots=True)
class JobRef:
    """What names every key of a job: its id, its pool and its owner."""

    id: str
    pool: str
    owner: str


@dataclass(frozen=True, slots=True)
class Admission:
    """What `submit` checks before it takes a job, and holds while the job runs."""

    queue_cap: int
    """The most jobs the pool's queue may hold."""
    max_active: int
    """The most unfinished jobs the owner may have."""
    budget: int
    """The owner's budget of stored output, in bytes."""
    hold: int
    """Bytes of the budget held until the job ends (its pool's largest output)."""
    drain_rate: float
    """Bytes per second the owner's stored-output bucket drains."""
    weight: float = 1.0
    """The owner's share of the pool against other accounts' (see `contracts.queue`)."""
    rate: Bucket | None = None
    """The owner's request bucket, to take the submit's token from in the same script; None
    when the caller took it already."""


class SubmitRefusal(Enum):
    queue_full = "queue_full"
    user_limit = "user_limit"
    storage_full = "storage_full"
    rate_limited = "rate_limited"


@dataclass(frozen=True, slots=True)
class SubmitAnswer:
    job_id: str = ""
    """The job taken: the new one, or the earlier one of an idempotency key seen before."""
    refusal: SubmitRefusal | None = None
    retry_after: int = 0
    """For `storage_full`: the seconds until the bucket drains below the budget."""
    token: Taken | None = None
    """For `rate_limited`: what the request bucket answered."""


class DeleteResult(Enum):
    deleted = 1
    missing = 0
    """No such job, or another owner's."""
    not_ended = -1


@dataclass(frozen=True, slots=True)
class Started:
    """What `start` answered: `ok` with the new attempt, or why the job must not run."""

    result: AppendResult
    attempt: int = 0
    seq: int = 0
    """The seq of the attempt's `job-start`."""
    steps: int = 0
    """The attempt's steps written (its `job-reset` and `job-start`): its appends go on from
    the next one."""
    created_at: float = 0.0
    """When the job was submitted (unix seconds; 0 when not known)."""


@dataclass(frozen=True, slots=True)
class AppendAnswer:
    result: AppendResult
    seq: int
    cancel_requested: bool


class EventLog:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        retention_seconds: int,
        durability: Durability = NO_WAIT,
        quota_window_seconds: int = DEFAULT_QUOTA_WINDOW_SECONDS,
        batch: ScriptBatch | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_seconds = retention_seconds
        self.durability = durability
        self.quota_window_seconds = quota_window_seconds
        """The quota window a job-end charges its usage to (see `contracts.usage`)."""
        self.batch = batch
        """Where the scripts' calls go, sharing one pipeline per turn of the loop
        (`contracts.batch`): an edge's submits, a worker's starts and appends; not those
        that wait for replicas (`WAIT` counts one connection's writes)."""
        self._submit = redis.register_script(log.SUBMIT)
        self._start = redis.register_script(log.START)
        self._append = redis.register_script(log.APPEND)
        self._cancel = redis.register_script(log.CANCEL)
        self._dead_letter = redis.register_script(log.DEAD_LETTER)
        self._delete = redis.register_script(log.DELETE)

    async def submit(
        self,
        job: JobRef,
        *,
        now: float,
        envelope: str,
        admission: Admission,
        idempotency_key: str | None,
        idempotency_ttl: int,
        log_ttl: int,
        listing_horizon: int,
        priority: Priority = Priority.interactive,
    ) -> SubmitAnswer:
        """Write the job's record and its `job-queued` (with its position), and queue it at
        its owner's place in the pool's queue, unless the queue, the owner's unfinished jobs
        or the owner's stored output are at their limit."""
        keys = self.keys
        queued = JobQueued(job_id=job.id, seq=1, ts=now)
        shared = _submit_keys(keys, job.pool, job.owner, keys.shard_of_job(job.id), priority)
        idempotency = keys.idempotency(job.owner, idempotency_key) if idempotency_key else None
        script_keys = [
            keys.job(job.id),
            keys.events(job.id),
            shared.waiting,
            shared.user_jobs,
            idempotency or shared.no_idempotency,
            *shared.rest,
        ]
        script_args: list[str | int | float] = [
            job.id,
            job.owner,
            job.pool,
            repr(now),
            log.without_seq(queued),
            envelope,
            idempotency_ttl if idempotency_key else 0,
            admission.queue_cap,
            admission.max_active,
            log_ttl,
            listing_horizon,
            admission.budget,
            admission.hold,
            repr(admission.drain_rate),
            priority.value,
            shared.account,
            repr(admission.weight),
            *(admission.rate.args() if admission.rate else ["", ""]),
        ]
        result = await self._write(
            self._submit, script_keys, script_args, commit=f"the submit of job {job.id}"
        )
        return _submit_answer(_text(result))

    async def start(
        self, job_id: str, *, worker: str, now: float, floor: int = 0, reason: str = ""
    ) -> Started:
        """Begin a new attempt and append its `job-start` (after a `job-reset` giving `reason`,
        for any attempt after the first) in one step: its number, the seq of its `job-start`
        and the steps it wrote; or why the job must not run (`missing`, `ended`). `floor`: as
        for `append`."""
        start, reset = attempt_events(job_id, worker, now, reason)
        result, attempt, seq, steps, created_at = await self._write(
            self._start,
            [self.keys.job(job_id), self.keys.events(job_id)],
            [worker, repr(now), start, floor, reset],
        )
        return Started(
            AppendResult(result), int(attempt), int(seq), int(steps), float(_text(created_at))
        )

    async def append(
        self,
        job: JobRef,
        *,
        attempt: int,
        step: int,
        floor: int,
        event: BaseModel | str,
        entry_id: str | None = None,
        before: Sequence[BaseModel | str] = (),
    ) -> AppendAnswer:
        """Write one event of an attempt (after the events `before` it, in the same step: a
        job's last text and its end); a `job-end` also ends the job (its output goes to
        the record only), charges its owner its usage (`contracts.usage`) and, given the
        `entry_id` of the job in its shard's job stream, acknowledges it, in the same step.
        `step` numbers the attempt's appends (`start` wrote the first ones: its `steps`), so an
        append that is retried is written once. `floor` is the highest seq this writer
        was given for the job: a log that lost events past it (a failover) is not written to
        (`regressed`). An event given as a str is its JSON without `seq` already
        (`log.text_delta_json`)."""
        keys: tuple[str, ...] = _end_keys(self.keys, job)
        payload = "\n".join(log.without_seq(each) for each in (*before, event))
        args: list[Any]
        if isinstance(event, JobEnd):
            end = [
                event.status.value,
                repr(event.ts),
                self.retention_seconds,
                to_json(event.output).decode(),
                event.usage.model_dump_json() if event.usage else "null",
                event.error.model_dump_json() if event.error else "null",
            ]
            usage_keys, usage_args = charge(
                self.keys, job.owner, job.pool, event, self.quota_window_seconds
            )
            keys = (*keys, *usage_keys)
            args = [attempt, payload, *end, step, floor, *usage_args]
            if entry_id is not None:
                keys = (*keys, self.keys.jobs(job.pool, self.keys.shard_of_job(job.id)))
                args += [GROUP, entry_id]
            result, seq, cancel = await self._write(
                self._append, keys, args, commit=f"the end of job {job.id}"
            )
        else:
            args = [attempt, payload, *_NOT_AN_END, step, floor]
            result, seq, cancel = await self._write(self._append, keys, args)
        return AppendAnswer(AppendResult(result), int(seq), bool(cancel))

    async def _write(
        self, script: AsyncScript, keys: Sequence[str], args: list[Any], commit: str = ""
    ) -> Any:
        """A write: in the batch of this turn of the loop, if any; a `commit` (what it is,
        for the warning) waits for the replicas as `durability` asks."""
        if commit and self.durability.replicas:
            return await committed(
                self.redis, self.durability, commit, script, keys=keys, args=args
            )
        return await run_script(script, keys, args, self.batch)

    async def cancel_requested(self, job_id: str) -> bool:
        return bool(await self.redis.hget(self.keys.job(job_id), "cancel"))

    async def cancel(self, job: JobRef, end: JobEnd) -> str:
        """End a queued job with `end` (cancelled), or flag a running one for its worker.
        Returns the status after the call ('' for a missing job)."""
        shard = self.keys.shard_of_job(job.id)
        status = await self._cancel(
            keys=[
                *_end_keys(self.keys, job),
                *(self.keys.waiting(job.pool, shard, priority) for priority in Priority),
                self.keys.queue_state(job.pool, shard),
                *(self.keys.finish_tags(job.pool, shard, priority) for priority in Priority),
            ],
            args=[log.without_seq(end), repr(end.ts), self.retention_seconds],
        )
        return _text(status)

    async def delete(self, job: JobRef) -> DeleteResult:
        """Delete an ended job of `job.owner`: its record, its log, its entry in the owner's
        index (one step, so no reader sees half of it)."""
        keys = [self.keys.job(job.id), self.keys.events(job.id), self.keys.user_jobs(job.owner)]
        return DeleteResult(int(await self._delete(keys=keys, args=[job.owner, job.id])))

    async def dead_letter(
        self,
        job: JobRef,
        end: JobEnd,
        *,
        entry_id: str,
        deliveries: int,
        reason: str,
        envelope: str,
    ) -> bool:
        """In one step: move the job's entry `entry_id` of its shard's job stream to the
        shard's dead-letter stream (with `deliveries`, `reason` and the `envelope`),
        acknowledge it, and end the job with `end` (failed, with its error) unless it had
        ended, fencing out any worker still running it. Whether the job ended here."""
        shard = self.keys.shard_of_job(job.id)
        error = end.error.model_dump_json() if end.error else "null"
        ended = await self._dead_letter(
            keys=[
                *_end_keys(self.keys, job),
                self.keys.dead(job.pool, shard),
                self.keys.jobs(job.pool, shard),
            ],
            args=[
                log.without_seq(end),
                repr(end.ts),
                self.retention_seconds,
                error,
                GROUP,
                entry_id,
                job.id,
                deliveries,
                reason,
                envelope,
            ],
        )
        return int(ended) == 1


_NOT_AN_END = ("", "", "", "null", "null", "null")
"""APPEND's end arguments (status, now, retention, output, usage, error) for any other event."""


@dataclass(frozen=True, slots=True)
class _SubmitKeys:
    """SUBMIT's keys that a job shares with every job of its owner, pool, shard and priority."""

    waiting: str
    user_jobs: str
    no_idempotency: str
    rest: tuple[str, ...]
    """From the owner's unfinished jobs to its request bucket, in SUBMIT's order."""
    account: str


@functools.lru_cache(maxsize=4096)
def _submit_keys(keys: Keys, pool: str, owner: str, shard: int, priority: Priority) -> _SubmitKeys:
    """Cached, as `_end_keys` is: a submit would build these a dozen key names each time."""
    other = Priority.batch if priority is Priority.interactive else Priority.interactive
    return _SubmitKeys(
        waiting=keys.waiting(pool, shard, priority),
        user_jobs=keys.user_jobs(owner),
        no_idempotency=keys.idempotency(owner, "-"),
        rest=(
            keys.user_active(owner),
            keys.user_stored(owner),
            keys.waiting(pool, shard, other),
            keys.finish_tags(pool, shard, priority),
            keys.queue_state(pool, shard),
            keys.ready(pool, shard),
            keys.rate_user(owner),
        ),
        account=account(owner),
    )


@functools.lru_cache(maxsize=4096)
def _end_keys(keys: Keys, job: JobRef) -> tuple[str, ...]:
    """The keys of every script that can end a job: its record, its log, its pool's
    counters, its owner's account's unfinished jobs and stored-output bucket. Cached: an
    append per token would build them again each time."""
    return (
        keys.job(job.id),
        keys.events(job.id),
        keys.pool_stats(job.pool, keys.shard_of_job(job.id)),
        keys.user_active(job.owner),
        keys.user_stored(job.owner),
    )


RESTART_REASON = "the previous attempt did not finish"


def attempt_events(
    job_id: str, worker: str, now: float, reason: str = RESTART_REASON
) -> tuple[str, str]:
    """An attempt's `job-start` and `job-reset` as `START` (and `TAKE`) take them: without
    `seq` and `attempt`, which the script adds."""
    start = JobStart(job_id=job_id, seq=1, ts=now, attempt=1, worker=worker)
    reset = JobReset(job_id=job_id, seq=1, ts=now, attempt=1, reason=reason)
    unnumbered = {"seq", "attempt"}
    return start.model_dump_json(exclude=unnumbered), reset.model_dump_json(exclude=unnumbered)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _submit_answer(result: str) -> SubmitAnswer:
    if result == log.SUBMIT_QUEUE_FULL:
        return SubmitAnswer(refusal=SubmitRefusal.queue_full)
    if result == log.SUBMIT_USER_LIMIT:
        return SubmitAnswer(refusal=SubmitRefusal.user_limit)
    if result.startswith(log.SUBMIT_RATE_LIMITED):
        remaining, retry_ms, reset_ms = result.removeprefix(log.SUBMIT_RATE_LIMITED).split(":")
        token = Taken(False, int(remaining), int(retry_ms), int(reset_ms))
        return SubmitAnswer(refusal=SubmitRefusal.rate_limited, token=token)
    if result.startswith(log.SUBMIT_STORAGE_QUOTA):
        seconds = int(result.removeprefix(log.SUBMIT_STORAGE_QUOTA))
        return SubmitAnswer(refusal=SubmitRefusal.storage_full, retry_after=seconds)
    return SubmitAnswer(job_id=result)
