"""Every event-log script touches keys of one Redis Cluster slot, whoever owns the job and
however many shards the deployment has: the keys of a job, of its owner's account and of
the pool's queue share one hash tag."""

import asyncio
import zlib
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from contracts.deadletter import DeadJob, DeadLetters
from contracts.errors import ErrorCode, ErrorDetail
from contracts.eventlog import Admission, EventLog, JobRef
from contracts.events import JobEnd, TextDelta
from contracts.jobs import JobEnvelope, JobStatus, Priority
from contracts.keys import MAX_SHARDS, Keys, account, shard_tags
from contracts.queue import PoolQueues

OWNERS = [
    "alice",
    "bob",
    "guest-0123456789ab-" + "f" * 32,
    "guest-0123456789ab-" + "e" * 32,  # the same account as the guest above
    "ünïcødé-user-名前",
    "x" * 500,
    "{braces}",
    "",
]


def slot(key: str) -> int:
    return key_slot(key.encode())


class Recorder:
    """Stands in for a registered script: records the keys it is called with."""

    def __init__(self, answer: Any, seen: list[list[str]]) -> None:
        self.answer, self.seen = answer, seen

    async def __call__(self, *, keys: Any, args: Any, client: Any = None) -> Any:
        self.seen.append(list(keys))
        return self.answer


def recording_log(keys: Keys, seen: list[list[str]]) -> EventLog:
    event_log = EventLog(Redis(), keys, retention_seconds=60)  # never connects
    # the submit recorder also stands for TAKE, so it answers what TAKE answers
    take_answer: tuple[Any, ...] = (0, "0-0", 0, "0", 0, "0")
    event_log._submit = Recorder(take_answer, seen)  # type: ignore[assignment]
    event_log._start = Recorder((1, 1, 1, 1, "1.0"), seen)  # type: ignore[assignment]
    event_log._append = Recorder((1, 2, 0), seen)  # type: ignore[assignment]
    event_log._cancel = Recorder("cancelled", seen)  # type: ignore[assignment]
    event_log._dead_letter = Recorder(1, seen)  # type: ignore[assignment]
    return event_log


async def every_script(event_log: EventLog, job: JobRef, seen: list[list[str]]) -> None:
    admission = Admission(queue_cap=1, max_active=1, budget=1, hold=1, drain_rate=1.0)
    await event_log.submit(
        job,
        now=1.0,
        envelope="{}",
        admission=admission,
        idempotency_key="k",
        idempotency_ttl=1,
        log_ttl=1,
        listing_horizon=1,
    )
    await event_log.submit(
        job,
        now=1.0,
        envelope="{}",
        admission=admission,
        idempotency_key=None,
        idempotency_ttl=1,
        log_ttl=1,
        listing_horizon=1,
        priority=Priority.batch,
    )
    queues = PoolQueues(Redis(), event_log.keys, job.pool, batch_aging=1)  # never connects
    queues._take = event_log._submit  # records its keys
    await queues.take(event_log.keys.shard_of_job(job.id), consumer="w", now=1.0)
    await event_log.start(job.id, worker="w", now=1.0)
    delta = TextDelta(job_id=job.id, seq=1, ts=1.0, delta="a")
    await event_log.append(job, attempt=1, step=2, floor=0, event=delta)
    end = JobEnd(job_id=job.id, seq=1, ts=1.0, status=JobStatus.succeeded, output="a")
    await event_log.append(job, attempt=1, step=3, floor=0, event=end, entry_id="1-0")
    cancelled = JobEnd(job_id=job.id, seq=1, ts=1.0, status=JobStatus.cancelled)
    await event_log.cancel(job, cancelled)
    error = ErrorDetail(code=ErrorCode.dead_lettered, message="m")
    failed = JobEnd(job_id=job.id, seq=1, ts=1.0, status=JobStatus.failed, error=error)
    await event_log.dead_letter(
        job, failed, entry_id="1-0", deliveries=4, reason="r", envelope="{}"
    )
    letters = DeadLetters(Redis(), event_log.keys, job.pool)  # never connects
    letters._replay = Recorder("queued", seen)  # type: ignore[assignment]
    envelope = JobEnvelope(id=job.id, owner=job.owner, model=job.pool, input={})
    shard = event_log.keys.shard_of_job(job.id)
    dead = DeadJob("1-0", shard, job.id, 4, "r", envelope.model_dump_json())
    await letters.replay(dead, hold=1)


@pytest.mark.parametrize("shards", [1, 3, 8, 16, MAX_SHARDS])
def test_every_scripts_keys_share_the_slot_of_the_owners_shard(shards: int) -> None:
    keys = Keys("rl:", shards)
    for owner in OWNERS:
        seen: list[list[str]] = []
        job = JobRef(keys.new_job_id(owner), "chat", owner)
        asyncio.run(every_script(recording_log(keys, seen), job, seen))
        assert len(seen) == 9
        shard = keys.shard_of_user(owner)
        assert keys.jobs("chat", shard) in seen[2]  # a take moves a job to the job stream
        assert keys.jobs("chat", shard) in seen[5]  # the job-end acknowledges its entry
        # a take reads the records of the jobs it pops: in the shard's slot too
        assert slot(keys.job_key_prefix(shard) + job.id) == slot(keys.job(job.id))
        # and begins their attempts: their logs, in the shard's slot too
        assert slot(keys.events_key_prefix(shard) + job.id) == slot(keys.job(job.id))
        assert keys.dead("chat", shard) in seen[-2] and keys.jobs("chat", shard) in seen[-2]
        assert keys.dead("chat", shard) in seen[-1]  # a replay from it
        slots = {slot(key) for script_keys in seen for key in script_keys}
        assert slots == {slot(keys.job(job.id))}, owner
        assert keys.shard_of_job(job.id) == shard


def test_guests_of_one_address_share_a_shard_and_ids_name_it() -> None:
    keys = Keys()
    one, two = OWNERS[2], OWNERS[3]
    assert account(one) == account(two)
    assert keys.shard_of_user(one) == keys.shard_of_user(two)
    ids = {keys.new_job_id(one) for _ in range(100)}
    assert len(ids) == 100 and all(len(job_id) == 32 for job_id in ids)
    assert {keys.shard_of_job(job_id) for job_id in ids} == {keys.shard_of_user(one)}


@pytest.mark.parametrize("shards", [1, 2, 3, 7, 8, 64, MAX_SHARDS])
def test_shard_tags_spread_evenly_over_the_slots(shards: int) -> None:
    tags = shard_tags(shards)
    assert len(set(tags)) == shards
    for shard, tag in enumerate(tags):
        low = shard * REDIS_CLUSTER_HASH_SLOTS // shards
        high = (shard + 1) * REDIS_CLUSTER_HASH_SLOTS // shards
        assert low <= slot("{" + tag + "}") < high


def test_owners_spread_over_the_shards() -> None:
    keys = Keys()
    counts = [0] * keys.shards
    for n in range(8000):
        counts[keys.shard_of_user(f"user-{n}")] += 1
    assert min(counts) > 800  # 1000 each on average


@pytest.mark.parametrize("job_id", ["", "zz", "short", "0123", "ffff" + "0" * 28, "ü" * 40])
def test_any_string_maps_to_a_shard(job_id: str) -> None:
    keys = Keys(shards=3)
    assert 0 <= keys.shard_of_job(job_id) < 3
    assert slot(keys.job(job_id)) == slot(keys.events(job_id))


@pytest.mark.parametrize(
    ("job_id", "named"),
    [
        ("0005" + "a" * 28, True),
        ("fffe", True),
        ("00a", False),  # too short
        ("ABCD" + "0" * 28, False),  # upper case is not how ids are written
        ("00g0" + "0" * 28, False),
        ("\uff10\uff11\uff12\uff13" + "0" * 28, False),  # digits, but not ASCII ones
        ("12 4" + "0" * 28, False),
    ],
)
def test_a_job_id_names_its_shard_in_its_first_four_lower_case_hex_digits(
    job_id: str, named: bool
) -> None:
    keys = Keys(shards=7)
    by_name = int(job_id[:4], 16) % 7 if named else zlib.crc32(job_id.encode()) % 7
    assert keys.shard_of_job(job_id) == by_name


@pytest.mark.parametrize(
    "bad",
    [
        {"prefix": "a{b"},
        {"prefix": "}"},
        {"shards": 0},
        {"shards": -1},
        {"shards": MAX_SHARDS + 1},
        {"shards": 2**63},
    ],
)
def test_a_bad_layout_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"prefix|shards"):
        Keys(**bad)
