"""The usage charge (the job-end `APPEND` of `contracts.log`, its keys and arguments from
`contracts.usage.charge`) against a real Redis, in process: once per job, into the day and
window of the job's end, in the owner's account's shard, every key expiring; and the runner
charges a job's real usage with its `job-end`."""

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from contracts.connect import connect
from contracts.eventlog import EventLog, JobRef, Started
from contracts.events import JobEnd, Usage
from contracts.jobs import JobStatus
from contracts.keys import GUEST_TAG_LENGTH, Keys, account
from contracts.log import AppendResult
from contracts.models import ModelLimits
from contracts.pools import ModelKind
from contracts.usage import (
    MAX_TOKENS_PER_JOB,
    USAGE_RETENTION_SECONDS,
    UsageLedger,
    utc_day,
    window_start,
)
from edge.errors import TooManyRequests
from edge.tiers import LimitTier, TierTable
from edge.usage import Quotas
from tests.support.runner import REQUEST, run_job, stub_store
from worker.engines.base import Emit, JobContext, Result, Text

pytestmark = pytest.mark.integration

WINDOW = 3600
TIER = LimitTier(
    requests_per_second=1, burst=1, max_streams=1, max_active_jobs=100, tokens_per_window=20
)
END_TS = datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC).timestamp()


@pytest.fixture
def keys() -> Keys:
    return Keys(f"u{uuid.uuid4().hex[:10]}:")


async def started(redis: Redis, keys: Keys, owner: str = "alice") -> tuple[JobRef, Started]:
    """A job of `owner` submitted by the edge's store and started by a worker."""
    job_id, _ = await stub_store(redis, keys).submit(owner, REQUEST)
    start = await EventLog(redis, keys, 60).start(job_id, worker="w", now=END_TS)
    return JobRef(job_id, "p", owner), start


def end(job: JobRef, prompt: int = 7, completion: int = 5, ts: float = END_TS) -> JobEnd:
    usage = Usage(prompt_tokens=prompt, completion_tokens=completion)
    return JobEnd(job_id=job.id, seq=1, ts=ts, status=JobStatus.succeeded, usage=usage)


async def end_job(
    redis: Redis, keys: Keys, job: JobRef, start: Started, event: JobEnd, step: int = 0
) -> AppendResult:
    """What a worker does last: append the job-end (`step`: the attempt's next by default)."""
    answer = await EventLog(redis, keys, 60, quota_window_seconds=WINDOW).append(
        job, attempt=start.attempt, step=step or start.steps + 1, floor=start.seq, event=event
    )
    return answer.result


async def test_a_job_is_charged_once_into_its_day_and_window(redis: Redis, keys: Keys) -> None:
    ledger = UsageLedger(redis, keys, WINDOW)
    job, start = await started(redis, keys)
    assert await end_job(redis, keys, job, start, end(job)) == AppendResult.ok
    # a retried append, then a later attempt of the same job: nothing more
    assert await end_job(redis, keys, job, start, end(job, 100)) == AppendResult.duplicate
    again = await EventLog(redis, keys, 60).start(job.id, worker="w2", now=END_TS)
    assert again.result == AppendResult.ended
    usage_key = keys.usage("alice", "2026-03-01")
    assert await redis.hgetall(usage_key) == {"p:prompt": "7", "p:completion": "5", "p:jobs": "1"}
    assert await ledger.used("alice", END_TS) == 12
    assert await ledger.used("alice", END_TS + WINDOW) == 0  # the next window
    accounts = keys.usage_accounts(keys.shard_of_user("alice"), "2026-03-01")
    assert await redis.smembers(accounts) == {"alice"}
    assert USAGE_RETENTION_SECONDS - 5 < await redis.ttl(usage_key) <= USAGE_RETENTION_SECONDS
    assert USAGE_RETENTION_SECONDS - 5 < await redis.ttl(accounts) <= USAGE_RETENTION_SECONDS
    window_key = keys.quota_used("alice", window_start(END_TS, WINDOW))
    assert 0 < await redis.ttl(window_key) <= WINDOW


async def test_the_next_day_and_window_count_apart(redis: Redis, keys: Keys) -> None:
    ledger = UsageLedger(redis, keys, WINDOW)
    for ts in (END_TS, END_TS + 60):  # 23:59:30, then 00:00:30 the next day
        job, start = await started(redis, keys)
        assert await end_job(redis, keys, job, start, end(job, ts=ts)) == AppendResult.ok
    for day in ("2026-03-01", "2026-03-02"):
        assert await redis.hget(keys.usage("alice", day), "p:jobs") == "1"
    assert await ledger.used("alice", END_TS) == 12
    assert await ledger.used("alice", END_TS + 60) == 12
    assert utc_day(END_TS + 60) == "2026-03-02"


async def test_an_old_attempt_an_ended_or_missing_job_charges_nothing(
    redis: Redis, keys: Keys
) -> None:
    ledger = UsageLedger(redis, keys, WINDOW)
    job, first = await started(redis, keys)
    second = await EventLog(redis, keys, 60).start(job.id, worker="w2", now=END_TS)
    assert await end_job(redis, keys, job, first, end(job)) == AppendResult.fenced
    assert await ledger.used("alice", END_TS) == 0
    assert await end_job(redis, keys, job, second, end(job, 1, 1)) == AppendResult.ok
    assert await end_job(redis, keys, job, second, end(job), step=9) == AppendResult.ended
    assert await ledger.used("alice", END_TS) == 2
    gone = JobRef(keys.new_job_id("alice"), "p", "alice")
    assert await end_job(redis, keys, gone, second, end(gone)) == AppendResult.missing
    assert not await redis.exists(keys.job(gone.id)), "no record made for a missing job"
    assert await ledger.used("alice", END_TS) == 2


async def test_hostile_owners_are_charged_in_their_own_shard(redis: Redis, keys: Keys) -> None:
    ledger = UsageLedger(redis, keys, WINDOW)
    tag = "a" * GUEST_TAG_LENGTH
    owners = [
        "a{b}c",
        "}{",
        "x:usage:2026-03-01",
        "p:prompt",
        "ü🙂\u202e",
        "z" * 300,
        f"guest-{tag}-one",
        f"guest-{tag}-two",
    ]
    for owner in owners:
        job, start = await started(redis, keys, owner)
        assert await end_job(redis, keys, job, start, end(job)) == AppendResult.ok
        day = utc_day(END_TS)
        slots = {
            key_slot(key.encode())
            for key in (
                keys.job(job.id),
                keys.usage(owner, day),
                keys.quota_used(owner, window_start(END_TS, WINDOW)),
                keys.usage_accounts(keys.shard_of_user(owner), day),
            )
        }
        assert len(slots) == 1, owner
    for owner in owners[:6]:
        assert await ledger.used(owner, END_TS) == 12, owner
        fields = await redis.hgetall(keys.usage(owner, "2026-03-01"))
        assert fields == {"p:prompt": "7", "p:completion": "5", "p:jobs": "1"}
    # the guests of one address share one account
    assert await ledger.used(f"guest-{tag}-one", END_TS) == 24
    members: set[bytes | str] = set()
    for shard in range(keys.shards):
        members |= await redis.smembers(keys.usage_accounts(shard, "2026-03-01"))
    assert members == {account(owner) for owner in owners}


async def test_absurd_usage_is_clamped(redis: Redis, keys: Keys) -> None:
    ledger = UsageLedger(redis, keys, WINDOW)
    job, start = await started(redis, keys)
    await end_job(redis, keys, job, start, end(job, prompt=-50, completion=1 << 62))
    assert await ledger.used("alice", END_TS) == MAX_TOKENS_PER_JOB
    assert await redis.hget(keys.usage("alice", "2026-03-01"), "p:prompt") == "0"


class CountingEngine:
    """Reports the usage of a real engine's `Result`: 11 prompt tokens, 3 completion."""

    kind = ModelKind.chat

    async def load(self) -> None:
        return None

    def limits(self) -> ModelLimits:
        return ModelLimits(max_context=0)

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        for word in ("a ", "b ", "c "):
            yield Text(word)
        usage = Usage(prompt_tokens=11, completion_tokens=3, total_tokens=14)
        yield Result(output={"text": "a b c "}, usage=usage)


async def test_the_runner_charges_the_engines_usage(
    redis_server_url: str, redis: Redis, keys: Keys
) -> None:
    events = await run_job(redis_server_url, CountingEngine(), keys=keys)
    end_event = events[-1]
    day = utc_day(end_event["ts"])
    assert await redis.hgetall(keys.usage("alice", day)) == {
        "p:prompt": "11",
        "p:completion": "3",
        "p:jobs": "1",
    }
    assert await UsageLedger(redis, keys, 86400).used("alice", end_event["ts"]) == 14


@pytest.mark.parametrize("where", ["server", "cluster"])
async def test_the_report_reads_every_shard(
    where: str, request: pytest.FixtureRequest, keys: Keys
) -> None:
    """Charges of owners in many shards, then the edge's report: the caller's own rows, and
    an operator's of every account (one pipeline over every shard's slot on a Cluster, whose
    client refuses a script whose keys span slots)."""
    fixture = "redis_server_url" if where == "server" else "redis_cluster"
    value = request.getfixturevalue(fixture)
    url = value if isinstance(value, str) else value.url
    client = cast(Redis, connect(url, max_connections=8))
    tiers = TierTable(default=TIER, guest=TIER, named={}, user_tiers="")
    quotas = Quotas(client, keys, tiers, WINDOW)
    owners = [f"user-{index}" for index in range(12)]
    try:
        for owner in owners:
            job, start = await started(client, keys, owner)
            charged = await end_job(client, keys, job, start, end(job, ts=time.time()))
            assert charged == AppendResult.ok
        assert len({keys.shard_of_user(owner) for owner in owners}) > 3
        mine = await quotas.report("user-3", days=2)
        assert [(row.user, row.model, row.total_tokens) for row in mine.data] == [
            ("user-3", "p", 12)
        ]
        assert mine.quota.used == 12 and mine.quota.limit == 20
        everyone = await quotas.report("user-3", days=2, everyone=True)
        assert sorted(row.user for row in everyone.data) == sorted(owners)
        await quotas.check("user-3")  # 12 of 20 used: admitted, and its job passes it
        job, start = await started(client, keys, "user-3")
        await end_job(client, keys, job, start, end(job, ts=time.time()))
        with pytest.raises(TooManyRequests) as refused:
            await quotas.check("user-3")
        assert refused.value.code == "token_quota"
        assert 0 < int(refused.value.headers["Retry-After"]) <= WINDOW
        await quotas.check("user-4")
    finally:
        await client.aclose()
