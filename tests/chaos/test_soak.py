"""A bounded nemesis soak: random kills, pauses and Redis restarts under steady load.

`RELAYLINE_SOAK_SECONDS` sets how long faults are injected (30 s in `make test`, at most 180;
`make chaos` runs longer). The random choices come from a seed printed at the start
(`RELAYLINE_SOAK_SEED` replays a run). Every job that got a 202 is followed by a client that
reconnects through both edges, and all transcripts go through the same checker.
"""

import asyncio
import os
import random
import signal
import time

import httpx
import pytest

from tests.chaos.checker import Transcript, check, follow, nothing_pending
from tests.chaos.conftest import OwnRedis
from tests.chaos.helpers import supervisor
from tests.support.stack import Edge, Stack, Worker, auth

pytestmark = [pytest.mark.chaos, pytest.mark.solo]

SOAK_SECONDS = min(float(os.environ.get("RELAYLINE_SOAK_SECONDS", "30")), 3600)


@pytest.mark.timeout(SOAK_SECONDS + 400)
@pytest.mark.parametrize("own_redis", ["always"], indirect=True)
async def test_nemesis_soak(chaos_stack: Stack, own_redis: OwnRedis) -> None:
    seed = int(os.environ.get("RELAYLINE_SOAK_SEED", time.time_ns() % 1_000_000))
    print(f"nemesis seed {seed}")
    rng = random.Random(seed)
    edges = [chaos_stack.edge(), chaos_stack.edge()]
    followers: list[asyncio.Task[Transcript]] = []
    faults: list[str] = []
    with supervisor(chaos_stack, "stream", 3) as workers:
        deadline = time.monotonic() + SOAK_SECONDS
        load = asyncio.create_task(_load(rng, edges, followers, deadline))
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(2, 5))  # the nemesis' pace, not a synchronisation
            faults.append(await _strike(rng, chaos_stack, own_redis, edges, workers))
        await load
        for index, edge in enumerate(edges):  # heal: every edge back
            if not edge.alive():
                edges[index] = await asyncio.to_thread(chaos_stack.edge, None, edge.port)
        transcripts = await asyncio.gather(*followers)
    print(f"{len(transcripts)} jobs through faults: {', '.join(faults)}")
    assert len(transcripts) > 10
    for transcript in transcripts:
        check(transcript)
    assert nothing_pending(own_redis.url, chaos_stack.keys, ["stream"], timeout=30)


async def _load(
    rng: random.Random,
    edges: list[Edge],
    followers: list["asyncio.Task[Transcript]"],
    deadline: float,
) -> None:
    """Submit a job every few hundred ms through a live edge; follow each accepted one."""
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            edge = rng.choice(edges)
            body = {
                "model": "stream",
                "input": {"messages": [{"role": "user", "content": "soak"}]},
                "params": {"max_tokens": rng.randint(5, 60)},
            }
            try:
                response = await client.post(f"{edge.url}/v1/jobs", json=body, headers=auth())
            except httpx.HTTPError:
                response = None  # that edge is down: the client would try again elsewhere
            if response is not None and response.status_code == 202:
                job_id = response.json()["id"]
                followers.append(asyncio.create_task(follow(edges, job_id, timeout=300)))
            await asyncio.sleep(rng.uniform(0.1, 0.5))


async def _strike(
    rng: random.Random, stack: Stack, redis: OwnRedis, edges: list[Edge], workers: list[Worker]
) -> str:
    fault = rng.choice(["kill worker", "pause worker", "kill edge", "restart redis"])
    if fault == "kill worker":
        rng.choice(workers).kill()  # the supervisor starts a new one
    elif fault == "pause worker":
        paused = rng.choice(workers)
        paused.signal(signal.SIGSTOP)
        await asyncio.sleep(3)  # past the 2 s lease: its jobs are taken over
        paused.signal(signal.SIGCONT)
    elif fault == "kill edge":
        index = rng.randrange(len(edges))
        edges[index].kill()
        await asyncio.sleep(rng.uniform(0.5, 2))  # clients fail over to the other edge
        edges[index] = await asyncio.to_thread(stack.edge, None, edges[index].port)
    else:
        await asyncio.to_thread(redis.restart)
    return fault
