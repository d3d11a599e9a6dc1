"""Worker faults: killed, paused past the lease, poisoned, stopped with SIGTERM."""

import asyncio
import signal
from typing import cast

import pytest

from contracts.keys import GROUP
from tests.chaos.checker import check, follow, follow_live, nothing_pending
from tests.chaos.conftest import OwnRedis
from tests.chaos.helpers import events_seen, submit, supervisor, worker
from tests.support.stack import Stack
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.chaos


async def test_kill_9_a_worker_mid_stream_and_the_other_finishes_the_job(
    chaos_stack: Stack, own_redis: OwnRedis
) -> None:
    edge = chaos_stack.edge()
    # Both run before the job is queued (a worker started mid-job may be ready only after a
    # short job ended); the one that took it is killed.
    workers = [await asyncio.to_thread(worker, chaos_stack, "stream") for _ in range(2)]
    job_id = submit(edge, "stream", max_tokens=80)
    live, following = follow_live([edge], job_id)
    await events_seen(live.events, "text-delta", 5)
    taker = next(event["worker"] for event in live.events if event["type"] == "job-start")
    [first] = [process for process in workers if process.worker_id == taker]
    [second] = [process for process in workers if process is not first]
    first.kill()

    transcript = await following
    check(transcript)
    assert transcript.end is not None
    assert transcript.end["status"] == "succeeded"
    starts = [e for e in transcript.events if e["type"] in ("job-start", "job-reset")]
    assert [e["type"] for e in starts] == ["job-start", "job-reset", "job-start"]
    assert starts[-1]["worker"] == second.worker_id
    assert starts[-1]["attempt"] == 2
    assert nothing_pending(own_redis.url, chaos_stack.keys, ["stream"])


async def test_a_worker_paused_past_its_lease_cannot_interleave_when_it_wakes(
    chaos_stack: Stack, own_redis: OwnRedis
) -> None:
    edge = chaos_stack.edge()
    paused = await asyncio.to_thread(worker, chaos_stack, "stream")
    job_id = submit(edge, "stream", max_tokens=60)
    live, following = follow_live([edge], job_id)
    await events_seen(live.events, "text-delta", 3)
    paused.signal(signal.SIGSTOP)
    await asyncio.to_thread(worker, chaos_stack, "stream")

    transcript = await following  # attempt 2 ran to the end on the other worker
    paused.signal(signal.SIGCONT)
    client = chaos_stack.redis()
    # The woken worker's next write is refused: it gives the job up without writing.
    await async_wait_for(
        lambda: asyncio.to_thread(
            lambda: client.hget(chaos_stack.keys.worker(paused.worker_id), "running") == "0"
        ),
        what="the woken worker to give the job up",
    )
    check(transcript)
    assert transcript.end is not None
    assert transcript.end["status"] == "succeeded"
    assert client.xlen(chaos_stack.keys.events(job_id)) == len(transcript.events)
    assert paused.alive()
    assert nothing_pending(own_redis.url, chaos_stack.keys, ["stream"])


async def test_a_poison_job_is_dead_lettered_while_other_jobs_flow(
    chaos_stack: Stack, own_redis: OwnRedis
) -> None:
    edge = chaos_stack.edge()
    with supervisor(chaos_stack, "quick", 2):
        poison = submit(edge, "quick", prompt="POISON pill")
        others = [submit(edge, "quick", prompt=f"job {n}") for n in range(12)]
        transcripts = await asyncio.gather(
            *(follow([edge], job_id, timeout=120) for job_id in [poison, *others])
        )
    for transcript in transcripts:
        check(transcript)
    dead = transcripts[0].end
    assert dead is not None
    assert dead["status"] == "failed"
    assert dead["error"]["code"] == "dead_lettered"
    assert all(t.end is not None and t.end["status"] == "succeeded" for t in transcripts[1:])
    client = chaos_stack.redis()
    dead_letters = cast(
        list[tuple[str, dict[str, str]]],
        client.xrange(chaos_stack.keys.dead("quick", chaos_stack.keys.shard_of_job(poison))),
    )
    assert [fields["job_id"] for _, fields in dead_letters] == [poison]
    assert int(dead_letters[0][1]["deliveries"]) == 4  # three deliveries ran, the fourth did not
    assert nothing_pending(own_redis.url, chaos_stack.keys, ["quick"])


async def test_sigterm_hands_a_running_job_back_without_waiting_for_the_lease(
    chaos_stack: Stack, own_redis: OwnRedis
) -> None:
    long_lease = {"WORKER_LEASE_SECONDS": "60"}
    edge = chaos_stack.edge()
    leaving = await asyncio.to_thread(worker, chaos_stack, "stream", **long_lease)
    job_id = submit(edge, "stream", max_tokens=400)
    live, following = follow_live([edge], job_id)
    await events_seen(live.events, "text-delta", 3)
    staying = await asyncio.to_thread(worker, chaos_stack, "stream", **long_lease)
    leaving.signal(signal.SIGTERM)
    # Taken over well before the 60 s lease could expire.
    async with asyncio.timeout(20):
        await events_seen(live.events, "job-reset", 1)
    await asyncio.to_thread(leaving.popen.wait, 20)
    assert leaving.popen.returncode == 0
    transcript = await following
    check(transcript)
    assert transcript.end is not None
    assert transcript.end["status"] == "succeeded"
    assert [e["worker"] for e in transcript.events if e["type"] == "job-start"][-1] == (
        staying.worker_id
    )
    client = chaos_stack.redis()
    for stream in chaos_stack.keys.job_streams("stream"):
        assert cast(dict[str, int], client.xpending(stream, GROUP))["pending"] == 0
