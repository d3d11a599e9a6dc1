"""Redis restarts: with AOF `appendfsync always` every accepted job completes; without
persistence the services recover by themselves and lost jobs end visibly, none hangs."""

import asyncio
import re

import httpx
import pytest

from tests.chaos.checker import check, follow, follow_live, nothing_pending
from tests.chaos.conftest import OwnRedis
from tests.chaos.helpers import events_seen, submit, worker
from tests.support.stack import Stack, auth
from tests.support.wait import wait_for

pytestmark = pytest.mark.chaos


@pytest.mark.parametrize("own_redis", ["always"], indirect=True)
async def test_with_aof_always_every_accepted_job_completes_after_a_restart(
    chaos_stack: Stack, own_redis: OwnRedis
) -> None:
    edge = chaos_stack.edge()
    await asyncio.to_thread(worker, chaos_stack, "stream")
    job_ids = [submit(edge, "stream", max_tokens=40) for _ in range(8)]  # 4 run, 4 wait
    lives, followers = zip(
        *(follow_live([edge], job_id, timeout=120) for job_id in job_ids),
        strict=True,
    )
    await events_seen(lives[0].events, "text-delta", 5)
    await asyncio.to_thread(own_redis.restart)  # kill -9 and start again on the same AOF

    transcripts = await asyncio.gather(*followers)
    for transcript in transcripts:
        check(transcript)
        assert transcript.end is not None
        assert transcript.end["status"] == "succeeded", transcript.end
    assert nothing_pending(own_redis.url, chaos_stack.keys, ["stream"])


async def test_without_persistence_services_recover_and_lost_jobs_end_visibly(
    chaos_stack: Stack, own_redis: OwnRedis
) -> None:
    edge = chaos_stack.edge()
    stream_worker = await asyncio.to_thread(worker, chaos_stack, "stream")
    job_ids = [submit(edge, "stream", max_tokens=200) for _ in range(3)]
    lives, followers = zip(
        *(follow_live([edge], job_id, timeout=60) for job_id in job_ids),
        strict=True,
    )
    await events_seen(lives[0].events, "text-delta", 3)
    for live in lives:  # every follower is subscribed (a subscribe after the restart is a 404)
        await events_seen(live.events, "job-queued", 1)
    await asyncio.to_thread(own_redis.restart)  # everything in Redis is gone

    for transcript in await asyncio.gather(*followers):
        assert transcript.lost is not None, "a job lost with Redis must not hang its client"
        assert transcript.lost["code"] == "job_lost"

    # The worker recreates its group and the edge serves again: new jobs complete.
    client = chaos_stack.redis()
    wait_for(
        lambda: client.zscore(chaos_stack.keys.workers("stream"), stream_worker.worker_id),
        what="the worker's heartbeat after the restart",
    )
    after = submit(edge, "stream", max_tokens=5)
    transcript = await follow([edge], after)
    check(transcript)
    assert transcript.end is not None
    assert transcript.end["status"] == "succeeded"
    assert httpx.get(f"{edge.url}/v1/jobs/{job_ids[0]}", headers=auth()).status_code == 404
    # No NOGROUP hot loop: a handful of log lines, not one per poll.
    errors = re.findall(r"NOGROUP|fetch error|heartbeat failed", stream_worker.log())
    assert len(errors) < 20, errors
    assert nothing_pending(own_redis.url, chaos_stack.keys, ["stream"])


async def test_a_vanished_consumer_group_is_recreated_and_the_worker_goes_on(
    chaos_stack: Stack, own_redis: OwnRedis
) -> None:
    edge = chaos_stack.edge()
    stream_worker = await asyncio.to_thread(worker, chaos_stack, "stream")
    client = chaos_stack.redis()
    client.delete(*chaos_stack.keys.job_streams("stream"))  # the streams and groups are gone
    # FastStream treats NOGROUP as fatal; the heartbeat recreates the group, and a worker
    # app stopped by it anyway is started again in the same process.
    transcript = await follow([edge], submit(edge, "stream", max_tokens=5))
    check(transcript)
    assert transcript.end is not None
    assert transcript.end["status"] == "succeeded"
    assert stream_worker.alive()
