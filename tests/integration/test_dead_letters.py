"""`relayline dead list|show|replay|drop`: a poison job is dead-lettered by real workers, listed,
replayed once the poison is gone from its pool's options, and then succeeds; replayed twice,
it runs once. Real Redis, real worker processes, the real command."""

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.support.client import ws_follow
from tests.support.queue import events, queue_job, status
from tests.support.stack import Stack
from tests.support.wait import async_wait_for, wait_for

pytestmark = pytest.mark.integration

POOL = "fragile"
POISONED = f"""
[pools.{POOL}]
kind = "chat"
engine = "simulated"
options = {{ token_rate = 0, latency = 0, default_tokens = 4, crash_on = "POISON" }}
"""
FIXED = POISONED.replace(', crash_on = "POISON"', "")
QUICK_DEAD_LETTER = {
    "WORKER_MAX_DELIVERIES": "1",  # the worker the job killed was its only delivery
    "WORKER_LEASE_SECONDS": "1",
    "WORKER_REAPER_INTERVAL_SECONDS": "0.3",
}


@pytest.fixture
def stack(redis_server_url: str, tmp_path: Path) -> Iterator[Stack]:
    (tmp_path / "fixed.toml").write_text(FIXED)
    pools = tmp_path / "poisoned.toml"
    pools.write_text(POISONED)
    stack = Stack(redis_server_url, tmp_path, pools_file=pools)
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url, decode_responses=True)
    yield client
    await client.aclose()


def dead(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """`relayline dead ARGS` as an operator runs it, with the deployment's settings."""
    return subprocess.run(
        [sys.executable, "-m", "relayline.cli", "dead", *args],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def seqs_and_types(events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(event["seq"], event["type"]) for event in events]


async def dead_lettered(stack: Stack, redis: Redis, prompt: str) -> str:
    """Queue a poison job: its worker dies on it, another worker's reaper dead-letters it."""
    keys = stack.keys
    job_id = await queue_job(redis, keys, POOL, 0, tokens=4, prompt=prompt, owner="alice")
    killed = stack.worker(POOL, env=QUICK_DEAD_LETTER, wait=False)
    wait_for(lambda: not killed.alive(), what="the poison to kill its worker")
    reaper = stack.worker(POOL, env=QUICK_DEAD_LETTER)

    async def failed() -> bool:
        return await status(redis, keys, job_id) == "failed"

    await async_wait_for(failed, what="the job to end failed", timeout=60)
    reaper.stop()
    return job_id


async def test_a_dead_job_is_listed_shown_and_replayed_once_after_the_poison_is_gone(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    job_id = await dead_lettered(stack, redis, "POISON pill")
    owner = "alice"
    assert await redis.get(keys.user_active(owner)) is None  # the dead end released it
    edge = stack.edge()
    watched = await ws_follow(edge, job_id)  # a client saw the job end, dead-lettered
    assert [event["seq"] for event in watched] == [1, 2, 3]
    assert watched[-1]["error"]["code"] == "dead_lettered"

    listed = dead(stack, "list", "--pool", POOL, "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (entry["job_id"], entry["owner"], entry["model"]) == (job_id, owner, POOL)
    assert entry["deliveries"] == 2
    shown = dead(stack, "show", "--pool", POOL, "--id", job_id)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["envelope"]["input"]["messages"][0]["content"] == "POISON pill"

    # The poison leaves the pool's options; a worker with the fixed options runs the replay.
    stack.worker(POOL, env={"RELAYLINE_POOLS": str(stack.workdir / "fixed.toml")})
    replayed = dead(stack, "replay", "--pool", POOL, "--id", job_id)
    assert replayed.returncode == 0, replayed.stderr
    assert "queued again" in replayed.stdout

    async def succeeded() -> bool:
        return await status(redis, keys, job_id) == "succeeded"

    await async_wait_for(succeeded, what="the replayed job to succeed", timeout=60)
    again = dead(stack, "replay", "--pool", POOL, "--id", job_id)
    assert again.returncode == 0 and "nothing to replay" in again.stdout, again
    log = await events(redis, keys, job_id)
    # queued, the attempt that killed its worker; its dead-letter end left the log on replay
    # (seq 3: a gap, then the replay's attempt, which begins with a job-reset)
    assert seqs_and_types(log) == [
        (1, "job-queued"),
        (2, "job-start"),
        (4, "job-reset"),
        (5, "job-start"),
        (6, "text-delta"),
        (7, "job-end"),
    ]
    assert log[-1]["status"] == "succeeded"
    assert log[2]["attempt"] == log[3]["attempt"] > log[1]["attempt"]
    # Through the edge that delivered the dead-letter's end: the client that saw it goes on
    # after it with the job-reset; a new one reads the log as it is now, with the new end.
    went_on = await ws_follow(edge, job_id, after=3)
    assert [event["type"] for event in went_on] == [kind for _, kind in seqs_and_types(log)[2:]]
    fresh = await ws_follow(edge, job_id)
    assert seqs_and_types(fresh) == seqs_and_types(log)
    for end in (went_on[-1], fresh[-1]):
        assert end["status"] == "succeeded" and end["output"]["text"], end
    assert await redis.get(keys.user_active(owner)) is None  # charged and released once more
    assert dead(stack, "list", "--pool", POOL).stdout == ""
    assert await redis.ttl(keys.job(job_id)) > 0  # it expires again, as any ended job


async def test_a_dropped_dead_job_stays_failed_and_bad_requests_change_nothing(
    stack: Stack, redis: Redis
) -> None:
    keys = stack.keys
    job_id = await dead_lettered(stack, redis, "more POISON")
    for args, code, says in [
        (["list", "--pool", "no-such-pool"], 2, "no pool 'no-such-pool'"),
        (["replay", "--pool", POOL], 2, "give --id"),
        (["replay", "--pool", POOL, "--id", "0" * 32], 1, "has no dead-lettered job"),
        (["show", "--pool", POOL, "--id", "not an id ✗"], 1, "has no dead-lettered job"),
        (["drop", "--pool", POOL, "--id", "9" * 400], 1, "has no dead-lettered job"),
    ]:
        answer = dead(stack, *args)
        assert (answer.returncode, answer.stdout) == (code, ""), answer
        assert says in answer.stderr and "Traceback" not in answer.stderr, answer.stderr
    assert len(dead(stack, "list", "--pool", POOL).stdout.splitlines()) == 1

    dropped = dead(stack, "drop", "--pool", POOL, "--id", job_id)
    assert (dropped.returncode, dropped.stdout.strip()) == (0, f"{job_id}: dropped")
    assert dead(stack, "list", "--pool", POOL).stdout == ""
    assert await status(redis, keys, job_id) == "failed"
    gone = dead(stack, "replay", "--pool", POOL, "--id", job_id)
    assert gone.returncode == 1 and "has no dead-lettered job" in gone.stderr
