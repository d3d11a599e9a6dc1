"""A Redis Cluster with a replica per master: `kill -9` the master of one user's shard while
jobs of users on every master stream. After the failover every accepted job ends exactly
once, each client's stream is exact or goes on after an explicit `job-reset`, and the users
on the other masters are served throughout."""

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.chaos.test_sentinel import WAIT, assert_ends_once_through_resets
from tests.support.client import assert_complete, get_job, submit, ws_follow
from tests.support.cluster import owner_port
from tests.support.stack import Stack
from tests.support.topology import Topology
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.chaos

USERS = ("alice", "bob", "carol")  # their shards' slots lie on three different masters


async def test_a_masters_failover_ends_every_job_once(
    new_topology: Callable[[str], Topology], tmp_path: Path
) -> None:
    topology = new_topology("cluster-replicas")
    stack = Stack(topology.url, tmp_path)
    try:
        edge = stack.edge(env={f"EDGE_{name}": value for name, value in WAIT.items()})
        worker_env = {f"WORKER_{name}": value for name, value in WAIT.items()}
        for _ in range(2):
            stack.worker(
                "slow",
                env={**worker_env, "WORKER_LEASE_SECONDS": "2", "WORKER_CONCURRENCY": "4"},
            )
        port = owner_port(topology.masters[0].client(), stack.keys.user_jobs("alice"))
        [victim] = [master for master in topology.masters if master.port == port]
        params = {"max_tokens": 60}  # 3 s at 20 tokens/s: streaming when the master dies
        jobs = {
            user: [submit(edge, "slow", user, params=params) for _ in range(2)] for user in USERS
        }
        following = {
            job_id: asyncio.create_task(ws_follow(edge, job_id, user=user))
            for user, ids in jobs.items()
            for job_id in ids
        }

        async def streaming() -> bool:  # the followers connect meanwhile
            return await asyncio.to_thread(
                lambda: all(
                    get_job(edge, job_id, user)["status"] == "running"
                    for user, ids in jobs.items()
                    for job_id in ids
                )
            )

        await async_wait_for(streaming, what="every job streaming")
        topology.kill(victim)
        topology.wait_for_failover(victim)

        transcripts = {
            job_id: await asyncio.wait_for(task, 90) for job_id, task in following.items()
        }
        for user, ids in jobs.items():
            for job_id in ids:
                assert_ends_once_through_resets(transcripts[job_id])
                assert get_job(edge, job_id, user)["status"] == "succeeded"
        # New jobs of the failed-over master's user go to its replica, now master.
        after = submit(edge, "slow", "alice", params={"max_tokens": 5})
        assert_complete(await asyncio.wait_for(ws_follow(edge, after, user="alice"), 60))
    finally:
        stack.close()
