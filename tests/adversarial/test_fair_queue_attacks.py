"""Attacks on a pool's fair queue (`contracts.queue`, the SUBMIT, TAKE and CANCEL scripts of
`contracts.log`), in process against a real Redis: jobs submitted as the edge submits them and
taken as a worker's reader takes them, in a deployment of one shard so every account shares
one queue.

- a user that queues a backlog and cancels it keeps no debt (its next job is not put behind
  everyone else's backlog), and gains no credit by cancelling;
- the finish tags of accounts that no longer wait do not pile up: one member per account
  that ever submitted was kept until the clock passed it, and with single-job accounts the
  clock never moves;
- a batch job that arrives while interactive jobs wait does not jump them (aging counts from
  when a batch job started waiting, not from the last batch job taken, hours ago);
- the queue's summed weights return to nothing when nothing waits, whatever weights the
  edges gave the jobs (a changed `EDGE_WEIGHT` between submits)."""

import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from contracts.eventlog import Admission, EventLog, JobRef
from contracts.events import JobEnd
from contracts.jobs import JobEnvelope, JobStatus, Priority
from contracts.keys import GROUP, Keys
from contracts.queue import PoolQueues
from worker.heartbeat import ensure_groups

pytestmark = pytest.mark.integration

POOL = "p"


def admission(weight: float = 1.0) -> Admission:
    return Admission(
        queue_cap=10_000,
        max_active=10_000,
        budget=1 << 40,
        hold=1 << 10,
        drain_rate=1e6,
        weight=weight,
    )


@pytest.fixture
async def queue(redis_server_url: str) -> AsyncIterator["Queue"]:
    redis = Redis.from_url(redis_server_url, decode_responses=True)
    keys = Keys(f"fq{uuid.uuid4().hex[:10]}:", shards=1)
    await ensure_groups(redis, keys.job_streams(POOL))
    yield Queue(redis, keys)
    await redis.aclose()


class Queue:
    """One shard's queue of pool `p`, driven as the edge and a worker drive it."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self.log = EventLog(redis, keys, 60)
        self.now = time.time()

    async def submit(
        self, owner: str, priority: Priority = Priority.interactive, weight: float = 1.0
    ) -> str:
        job_id = self.keys.new_job_id(owner)
        envelope = JobEnvelope(id=job_id, owner=owner, model=POOL, input={}, params={})
        answer = await self.log.submit(
            JobRef(job_id, POOL, owner),
            now=time.time(),
            envelope=envelope.model_dump_json(),
            admission=admission(weight),
            idempotency_key=None,
            idempotency_ttl=60,
            log_ttl=60,
            listing_horizon=3600,
            priority=priority,
        )
        assert answer.job_id == job_id, answer
        return job_id

    async def cancel(self, owner: str, job_id: str) -> None:
        end = JobEnd(job_id=job_id, seq=1, ts=time.time(), status=JobStatus.cancelled)
        assert await self.log.cancel(JobRef(job_id, POOL, owner), end) == "cancelled"

    async def take(self, aging: float = 30) -> str | None:
        """The id of the job a worker's take gets (None: nothing waits)."""
        taken = await PoolQueues(self.redis, self.keys, POOL, batch_aging=aging).take(
            0, consumer="w", now=time.time()
        )
        if not taken.jobs:
            return None
        return str(json.loads(taken.jobs[0].envelope)["id"])

    async def take_all(self) -> list[str]:
        order = []
        while (job_id := await self.take()) is not None:
            order.append(job_id)
        return order

    async def state(self) -> dict[str, str]:
        return cast(dict[str, str], await self.redis.hgetall(self.keys.queue_state(POOL, 0)))

    def tags(self, priority: Priority = Priority.interactive) -> str:
        return self.keys.finish_tags(POOL, 0, priority)


async def test_a_cancelled_backlog_leaves_its_user_no_debt(queue: Queue) -> None:
    """Mallory queues 30 jobs and cancels them all (a form submitted twice, a script gone
    wrong); Bob has 10 jobs waiting. Mallory's next job must be served about as soon as a
    new user's, not after Bob's whole backlog: the cancelled jobs' finish tag was kept, 30
    turns past the clock."""
    backlog = [await queue.submit("mallory") for _ in range(30)]
    bob = [await queue.submit("bob") for _ in range(10)]
    for job_id in backlog:
        await queue.cancel("mallory", job_id)
    again = await queue.submit("mallory")
    order = await queue.take_all()
    assert order.index(again) <= 2, f"served after {order.index(again)} of bob's 10 jobs"
    assert sorted(order) == sorted([*bob, again])


async def test_cancelling_gains_no_credit(queue: Queue) -> None:
    """Cancel and submit again may not move a user ahead of its place: Bob's first job was
    just served, so his next one starts a turn after the clock, level with Carol's second,
    however often he cancels and submits it again."""
    await queue.submit("bob")
    carol = [await queue.submit("carol") for _ in range(3)]
    await queue.take()  # bob's first or carol's first (they tie)
    await queue.take()  # the other one: both have had a turn
    second = await queue.submit("bob")
    for _ in range(5):
        await queue.cancel("bob", second)
        second = await queue.submit("bob")
    waiting = queue.keys.waiting(POOL, 0, Priority.interactive)
    assert await queue.redis.zscore(waiting, second) == await queue.redis.zscore(waiting, carol[1])


async def test_finish_tags_of_accounts_that_left_are_dropped(queue: Queue) -> None:
    """200 users (guests of 200 addresses) each submit one job, which is served before the
    next comes: every one starts at the clock, so the clock never moved and every account's
    finish tag stayed in the shared set, for ever (no TTL). Once nothing waits, no tag can
    matter: the set is empty and gone."""
    for n in range(200):
        await queue.submit(f"passer-{n}")
        assert await queue.take() is not None
    assert await queue.redis.zcard(queue.tags()) == 0
    assert not await queue.redis.exists(queue.tags())


async def test_a_batch_job_does_not_jump_waiting_interactive_jobs(queue: Queue) -> None:
    """No batch job was taken for longer than the aging time (never, here): a batch job that
    just arrived went ahead of the interactive jobs waiting. It has waited no time at all."""
    chats = [await queue.submit("alice") for _ in range(3)]
    batch = await queue.submit("carol", Priority.batch)
    assert await queue.take(aging=30) == chats[0]
    assert await queue.take(aging=30) == chats[1]
    assert await queue.take(aging=30) == chats[2]
    assert await queue.take(aging=30) == batch


async def test_a_batch_job_that_waited_the_aging_time_goes_first(queue: Queue) -> None:
    """Aging still works: a batch job that has waited longer than the aging time is taken
    before the interactive jobs that keep arriving."""
    chats = [await queue.submit("alice") for _ in range(3)]
    batch = await queue.submit("carol", Priority.batch)
    assert await queue.take(aging=30) == chats[0]
    assert await queue.take(aging=0) == batch  # it has waited at least 0 s


async def test_summed_weights_return_to_nothing_when_nothing_waits(queue: Queue) -> None:
    """Alice's first job was queued by an edge that gave her weight 3, her second by one
    restarted with weight 1: the queue's summed weight kept 2 after both were taken, and
    the worker weighed this shard with a user who was not there, for ever."""
    first = await queue.submit("alice", weight=3)
    await queue.submit("alice", weight=1)
    await queue.submit("bob", weight=1)
    await queue.cancel("alice", first)
    await queue.take_all()
    state = await queue.state()
    assert not [field for field in state if field.startswith(("w:", "n:"))], state


async def check_counts(queue: Queue) -> None:
    """The queue's state agrees with its waiting jobs: per priority, the accounts' counts sum
    to the jobs waiting, each account with jobs has its weight, and their sum is `w:`."""
    state = await queue.state()
    for priority in Priority:
        waiting = await queue.redis.zcard(queue.keys.waiting(POOL, 0, priority))
        counts = {
            field.split(":", 2)[2]: int(value)
            for field, value in state.items()
            if field.startswith(f"n:{priority}:")
        }
        shares = {
            field.split(":", 2)[2]: float(value)
            for field, value in state.items()
            if field.startswith(f"w:{priority}:")
        }
        assert sum(counts.values()) == waiting, state
        assert all(count > 0 for count in counts.values()), state
        assert set(shares) == set(counts), state
        total = float(state.get(f"w:{priority}", 0))
        assert abs(total - sum(shares.values())) < 1e-6, state


async def test_mixed_submits_cancels_and_takes_keep_the_counts_exact(queue: Queue) -> None:
    """Users of different weights submit at both priorities, cancel waiting jobs (some twice)
    and workers take, interleaved: the counts never drift or go negative, and once the queue
    is drained nothing of any account is left in it."""
    rng = random.Random(11)
    owners = {f"user-{n}": rng.choice([0.01, 0.5, 1.0, 3.0, 1000.0]) for n in range(6)}
    waiting: list[tuple[str, str]] = []
    for step in range(400):
        action = rng.random()
        if action < 0.5 or not waiting:
            owner = rng.choice(list(owners))
            priority = rng.choice(list(Priority))
            weight = owners[owner] if rng.random() < 0.9 else rng.choice([0.3, 7.0])
            waiting.append((owner, await queue.submit(owner, priority, weight)))
        elif action < 0.75:
            owner, job_id = waiting.pop(rng.randrange(len(waiting)))
            await queue.cancel(owner, job_id)
            end = JobEnd(job_id=job_id, seq=1, ts=time.time(), status=JobStatus.cancelled)
            assert await queue.log.cancel(JobRef(job_id, POOL, owner), end) == "cancelled"
        else:
            taken = await queue.take(aging=rng.choice([0.0, 30.0]))
            waiting = [(owner, job_id) for owner, job_id in waiting if job_id != taken]
        if step % 20 == 0:
            await check_counts(queue)
    await check_counts(queue)
    assert len(await queue.take_all()) == len(waiting)
    state = await queue.state()
    assert set(state) <= {"v:interactive", "v:batch", "batch_at"}, state
    for priority in Priority:
        assert not await queue.redis.exists(queue.tags(priority))
        assert not await queue.redis.exists(queue.keys.waiting(POOL, 0, priority))


async def test_a_take_that_finds_no_group_loses_no_job(queue: Queue) -> None:
    """A Redis that lost its consumer groups (a restart from an old snapshot, a `DEL` of the
    stream's group): `TAKE` has moved the job into the job stream when its `XREADGROUP`
    fails, and Redis keeps a script's writes up to an error. The job is in the stream, so the
    group a worker's heartbeat creates again from id 0 delivers it: out of its queue, never
    out of both."""
    job_id = await queue.submit("alice")
    stream = queue.keys.jobs(POOL, 0)
    await queue.redis.xgroup_destroy(stream, GROUP)
    with pytest.raises(ResponseError, match="NOGROUP"):
        await queue.take()
    assert await queue.redis.zcard(queue.keys.waiting(POOL, 0, Priority.interactive)) == 0
    await ensure_groups(queue.redis, queue.keys.job_streams(POOL))
    assert await queue.take() == job_id
    await check_counts(queue)
