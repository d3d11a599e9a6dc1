"""A pool's queue: which waiting job a worker takes next, fairly across users.

Each pool has one queue per shard (`contracts.keys`), in the shard's slot with the jobs and
accounts it holds, so submit, take and cancel are each one script (`contracts.log`):

- **Fair share: start-time fair queuing.** A queue has a virtual clock per priority, and an
  account's waiting jobs are spaced `1 / weight` apart on it: a job's virtual start time is the
  later of the clock and the finish time of its account's previous waiting job. A worker takes
  the job with the lowest start time and moves the clock to it. So accounts that all have jobs
  waiting are served in proportion to their weights, whatever the order they submitted in; an
  account that arrives while another has a backlog waits for about one job per account ahead
  of it, not for the backlog; and an idle account keeps no credit (its next job starts at the
  clock). Once nothing waits at a priority, the clock moves to the latest finish tag and the
  tags are dropped (the rule for an idle server), so the tags hold only accounts served
  within the current busy period.
- **Priorities.** `interactive` jobs and `batch` jobs wait in separate queues, each fair as
  above. A worker takes an interactive job whenever one waits, except that when batch jobs
  have waited `batch_aging` seconds since one was last taken (or since they began to wait,
  if later), the next batch job goes first: a batch backlog always moves, by at least one job
  per aging period per shard, and a batch job that just came never jumps interactive ones.
- **Workers take, nobody pushes.** A job waits in its queue, not in the job stream: a worker
  with a free slot runs `TAKE`, which moves the next job into the shard's job stream and reads
  it through the consumer group in the same step. From there on, delivery is the job stream's,
  as before: at-least-once through the group's pending entries, leases, the reaper and the
  dead-letter stream. A worker holds no job it cannot start, so the order is decided when a
  slot frees, not when a job is submitted.
- **Shards by weight.** A worker reads every shard of its pool, one reader each, sharing its
  slots (`worker.slots`): a freed slot goes to a reader whose shard has an interactive job
  waiting, then by the summed weights of the accounts waiting in each shard (what `TAKE`
  reports), so an account's share of the pool is its weight over everyone waiting, whichever
  shard it is in.
- **Cancel** of a waiting job takes it out of its queue, in the script that ends it, and
  gives its account back the turn the job held: a cancelled backlog leaves no debt (the next
  job is not put behind everyone's backlog) and gains no credit (at most one turn past the
  clock is kept, as for a job just served).

Submit bumps a one-entry ready stream per queue: an idle worker waits on it with a blocking
`XREAD` from the id `TAKE` last answered, so it wakes for the next submit and misses none.
"""

import functools
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from contracts import log
from contracts.batch import ScriptBatch, run_script
from contracts.eventlog import Started, attempt_events
from contracts.jobs import QUEUE_REPORT_USERS, PoolQueue, Priority, UserQueue
from contracts.keys import GROUP, Keys
from contracts.log import AppendResult


@dataclass(frozen=True, slots=True)
class Waiting:
    """What a shard's queue holds: jobs and the summed weights of their accounts."""

    interactive: int = 0
    interactive_weight: float = 0.0
    batch: int = 0
    batch_weight: float = 0.0


@dataclass(frozen=True, slots=True)
class TakenJob:
    """A job stream entry `TAKE` delivered to the consumer."""

    entry_id: str
    envelope: str
    """Its envelope's JSON (`log.ENVELOPE_FIELD`)."""
    started: Started | None = None
    """The attempt the take began, for a take given a worker (None: the worker starts it
    with `EventLog.start`)."""


@dataclass(frozen=True, slots=True)
class Taken:
    """What `TAKE` answered: the job stream entries it delivered to the consumer (none: no
    job waits), what waits after them, and the ready stream's last id: a submit after the
    take moves it."""

    jobs: list[TakenJob]
    waiting: Waiting
    ready_id: str


class PoolQueues:
    """The queues of one pool, one per shard, as a worker takes from them."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        pool: str,
        *,
        batch_aging: float,
        batch: ScriptBatch | None = None,
    ) -> None:
        self.redis, self.keys, self.pool = redis, keys, pool
        self.batch_aging = batch_aging
        self.batch = batch
        """Where takes go: one pipeline per turn of the worker's loop (`contracts.batch`)."""
        self._take = redis.register_script(log.TAKE)

    async def take(
        self,
        shard: int,
        *,
        consumer: str,
        now: float,
        count: int = 1,
        worker: str | None = None,
    ) -> Taken:
        """Move the shard's next `count` jobs into its job stream and read as many entries
        for `consumer` through the group (entries the stream held undelivered come first),
        as `count` takes one after the other would. Given a `worker`, each job read begins
        its attempt in the same step, as `EventLog.start` would (saving the worker a round
        trip per job)."""
        keys, pool = self.keys, self.pool
        script_keys = _take_keys(keys, pool, shard)
        args: list[Any] = [
            GROUP,
            consumer,
            keys.job_key_prefix(shard),
            repr(now),
            self.batch_aging,
            max(1, count),
        ]
        if worker is not None:
            args += [worker, *attempt_events("@", worker, now), keys.events_key_prefix(shard)]
        else:
            args.append("")
        answer = await run_script(self._take, script_keys, args, self.batch)
        read, ready, interactive, interactive_weight, batch, batch_weight = answer[:6]
        waiting = Waiting(
            int(interactive), float(interactive_weight), int(batch), float(batch_weight)
        )
        per_job = 7  # entry id, fields, and START's answer
        jobs = [
            _taken_job(*answer[at : at + per_job])
            for at in range(6, 6 + per_job * int(read), per_job)
        ]
        return Taken(jobs, waiting, _text(ready))


def _started(result: Any, attempt: Any, seq: Any, steps: Any, created_at: Any) -> Started:
    """START's answer (or TAKE's for a job it began)."""
    return Started(
        AppendResult(int(result)), int(attempt), int(seq), int(steps), float(_text(created_at))
    )


def _taken_job(entry_id: Any, flat: list[Any], *began: Any) -> TakenJob:
    fields = {_text(name): value for name, value in zip(flat[::2], flat[1::2], strict=True)}
    started = _started(*began) if int(began[0]) else None
    return TakenJob(_text(entry_id), _text(fields[log.ENVELOPE_FIELD]), started)


@functools.lru_cache(maxsize=1024)
def _take_keys(keys: Keys, pool: str, shard: int) -> tuple[str, ...]:
    """TAKE's keys for one shard's queue of a pool (the same for every take)."""
    return (
        keys.jobs(pool, shard),
        *(keys.waiting(pool, shard, priority) for priority in Priority),
        *(keys.finish_tags(pool, shard, priority) for priority in Priority),
        keys.queue_state(pool, shard),
        keys.ready(pool, shard),
    )


async def positions(
    redis: Redis, keys: Keys, jobs: list[tuple[str, str, Priority]]
) -> list[int | None]:
    """How many jobs its queue serves before each waiting job (`(id, pool, priority)`):
    None for one that waits no more. One round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for job_id, pool, priority in jobs:
            shard = keys.shard_of_job(job_id)
            pipe.zrank(keys.waiting(pool, shard, priority), job_id)
            pipe.zcard(keys.waiting(pool, shard, Priority.interactive))
        read = await pipe.execute() if jobs else []
    answers: list[int | None] = []
    for (_, _, priority), rank, interactive in zip(jobs, read[::2], read[1::2], strict=True):
        ahead = int(interactive) if priority is Priority.batch else 0
        answers.append(None if rank is None else int(rank) + ahead)
    return answers


async def pool_queue(redis: Redis, keys: Keys, pool: str) -> PoolQueue:
    """What waits in a pool, summed over its shards, by account: the `QUEUE_REPORT_USERS`
    accounts with the most jobs waiting. A queue of a shard may hold thousands of accounts:
    its state is read a page at a time (`HSCAN`), so other requests go on meanwhile."""
    users: dict[str, dict[Priority, int]] = {}
    for shard in range(keys.shards):
        fields = redis.hscan_iter(keys.queue_state(pool, shard), match="n:*", count=1000)
        async for field, value in fields:
            priority, _, owner = _text(field).removeprefix("n:").partition(":")
            if priority in Priority.__members__ and int(value) > 0:
                counts = users.setdefault(owner, dict.fromkeys(Priority, 0))
                counts[Priority(priority)] += int(value)
    rows = [
        UserQueue(user=owner, interactive=c[Priority.interactive], batch=c[Priority.batch])
        for owner, c in users.items()
    ]
    rows.sort(key=lambda row: (-(row.interactive + row.batch), row.user))
    return PoolQueue(
        pool=pool,
        interactive=sum(row.interactive for row in rows),
        batch=sum(row.batch for row in rows),
        users=rows[:QUEUE_REPORT_USERS],
        other_users=max(len(rows) - QUEUE_REPORT_USERS, 0),
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
